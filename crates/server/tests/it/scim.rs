//! SCIM 2.0 over HTTP, replaying what Entra ID and Okta send
//! (`docs/scim-clients.md`), plus the RFC 7644 behaviours around them:
//! discovery, bearer scopes, ETags, Bulk, search and paging.

use reqwest::header::{CONTENT_TYPE, ETAG, HeaderMap, LOCATION};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{ISSUER, TestApp, client};

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// A [`TestApp`] with a provisioning token of `scim:read scim:write`.
pub struct Scim {
    app: TestApp,
    pub token: String,
}

impl std::ops::Deref for Scim {
    type Target = TestApp;

    fn deref(&self) -> &TestApp {
        &self.app
    }
}

impl std::ops::DerefMut for Scim {
    fn deref_mut(&mut self) -> &mut TestApp {
        &mut self.app
    }
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Scim {
    pub async fn start() -> Self {
        Self::start_with(&[]).await
    }

    pub async fn start_with(env: &[(&str, &str)]) -> Self {
        let mut scim = Self {
            app: TestApp::start(env).await,
            token: String::new(),
        };
        scim.token = scim.token_with("scim:read scim:write").await;
        scim
    }

    /// A client_credentials token with exactly `scope`.
    pub async fn token_with(&self, scope: &str) -> String {
        let created = self.cli(&[
            "client",
            "create",
            "--name",
            "provisioning",
            "--grant-type",
            "client_credentials",
            "--scope",
            scope,
        ]);
        let answer: Value = client()
            .post(self.server.url("/token"))
            .basic_auth(
                created["client_id"].as_str().unwrap(),
                created["client_secret"].as_str(),
            )
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        answer["access_token"].as_str().unwrap().to_owned()
    }

    pub async fn call_as(
        &self,
        token: Option<&str>,
        method: Method,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut request = client().request(method, self.server.url(&format!("/scim/v2{path}")));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(body) = body {
            request = request
                .header(CONTENT_TYPE, "application/scim+json")
                .body(body.to_string());
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
        };
        if !body.is_null() {
            assert_eq!(
                headers[CONTENT_TYPE], "application/scim+json",
                "{path}: every SCIM body is application/scim+json"
            );
        }
        Reply {
            status,
            headers,
            body,
        }
    }

    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        self.call_as(Some(&self.token), method, path, body, &[])
            .await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.call(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.call(Method::POST, path, Some(body)).await
    }

    pub async fn put(&self, path: &str, body: Value) -> Reply {
        self.call(Method::PUT, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, operations: Value) -> Reply {
        let body = json!({"schemas": [PATCH_OP], "Operations": operations});
        self.call(Method::PATCH, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.call(Method::DELETE, path, None).await
    }

    /// Creates a user and returns its id.
    pub async fn create_user(&self, body: Value) -> String {
        let reply = self.post("/Users", body).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        reply.body["id"].as_str().unwrap().to_owned()
    }
}

fn filter(path: &str, filter: &str) -> String {
    let q = form_urlencoded::Serializer::new(String::new())
        .append_pair("filter", filter)
        .finish();
    format!("{path}?{q}")
}

fn assert_error(reply: &Reply, status: u16, scim_type: Option<&str>) {
    assert_eq!(reply.status.as_u16(), status, "{}", reply.body);
    assert_eq!(reply.body["status"], status.to_string(), "{}", reply.body);
    assert_eq!(
        reply.body["schemas"],
        json!(["urn:ietf:params:scim:api:messages:2.0:Error"])
    );
    assert!(reply.body["detail"].as_str().is_some_and(|d| !d.is_empty()));
    assert_eq!(
        reply.body.get("scimType").and_then(Value::as_str),
        scim_type
    );
}

fn entra_user(user_name: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
        "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
        "userName": user_name,
        "active": true,
        "displayName": "Test User",
        "emails": [{"primary": true, "type": "work", "value": user_name}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
        "roles": [],
        "title": null,
        ENTERPRISE: {"employeeNumber": "1234", "department": null, "manager": "0a21f0f2-manager"},
    })
}

#[tokio::test]
async fn discovery_describes_only_what_works() {
    let s = Scim::start().await;
    // Discovery needs no token.
    let config = s
        .call_as(None, Method::GET, "/ServiceProviderConfig", None, &[])
        .await;
    assert_eq!(config.status, StatusCode::OK);
    for feature in ["patch", "bulk", "filter", "changePassword", "sort", "etag"] {
        assert_eq!(config.body[feature]["supported"], true, "{feature}");
    }
    assert_eq!(config.body["bulk"]["maxOperations"], 1000);
    assert_eq!(config.body["filter"]["maxResults"], 1000);
    assert_eq!(
        config.body["authenticationSchemes"][0]["type"],
        "oauthbearertoken"
    );

    let types = s
        .call_as(None, Method::GET, "/ResourceTypes", None, &[])
        .await;
    assert_eq!(types.body["totalResults"], 2);
    let user_type = s
        .call_as(None, Method::GET, "/ResourceTypes/User", None, &[])
        .await;
    assert_eq!(user_type.body["schemaExtensions"][0]["schema"], ENTERPRISE);

    let schemas = s.call_as(None, Method::GET, "/Schemas", None, &[]).await;
    assert_eq!(schemas.body["totalResults"], 3);
    let user = s
        .call_as(
            None,
            Method::GET,
            "/Schemas/urn:ietf:params:scim:schemas:core:2.0:User",
            None,
            &[],
        )
        .await;
    let password = user.body["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "password")
        .unwrap();
    assert_eq!(password["returned"], "never");
    assert_eq!(password["mutability"], "writeOnly");
    assert_error(
        &s.call_as(None, Method::GET, "/Schemas/urn:nope", None, &[])
            .await,
        404,
        None,
    );
}

#[tokio::test]
async fn bearer_tokens_and_scopes() {
    let s = Scim::start().await;
    let none = s.call_as(None, Method::GET, "/Users", None, &[]).await;
    assert_error(&none, 401, None);
    assert!(none.headers.contains_key("www-authenticate"));
    assert_error(
        &s.call_as(Some("not-a-token"), Method::GET, "/Users", None, &[])
            .await,
        401,
        None,
    );

    let reader = s.token_with("scim:read").await;
    let list = s
        .call_as(Some(&reader), Method::GET, "/Users", None, &[])
        .await;
    assert_eq!(list.status, StatusCode::OK);
    let search = s
        .call_as(
            Some(&reader),
            Method::POST,
            "/Users/.search",
            Some(json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"]})),
            &[],
        )
        .await;
    assert_eq!(search.status, StatusCode::OK);
    let write = s
        .call_as(
            Some(&reader),
            Method::POST,
            "/Users",
            Some(json!({"userName": "x"})),
            &[],
        )
        .await;
    assert_error(&write, 403, None);

    // A client's token has no /Me: its subject is not a user.
    assert_error(&s.get("/Me").await, 404, None);

    let other = s.token_with("openid").await;
    assert_error(
        &s.call_as(Some(&other), Method::GET, "/Users", None, &[])
            .await,
        403,
        None,
    );
    // application/json is accepted as well.
    let created = s
        .call_as(
            Some(&s.token),
            Method::POST,
            "/Users",
            None,
            &[("content-type", "application/json")],
        )
        .await;
    assert_error(&created, 400, Some("invalidSyntax"));
}

#[tokio::test]
async fn entra_id_user_provisioning() {
    let s = Scim::start().await;
    // "Test Connection": a random GUID finds nothing, with a 200.
    let probe = s
        .get(&filter(
            "/Users",
            "userName eq \"7e7b6c1c-3b7e-4a8a-9f3c-0d51b0a1c2d4\"",
        ))
        .await;
    assert_eq!(probe.status, StatusCode::OK);
    assert_eq!(probe.body["totalResults"], 0);
    assert_eq!(probe.body["startIndex"], 1);
    assert_eq!(probe.body["itemsPerPage"], 0);
    assert_eq!(probe.body["Resources"], json!([]));

    let created = s.post("/Users", entra_user("Test_User@contoso.com")).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let id = created.body["id"].as_str().unwrap().to_owned();
    assert_eq!(
        created.headers[LOCATION].to_str().unwrap(),
        format!("{ISSUER}/scim/v2/Users/{id}")
    );
    assert_eq!(created.headers[ETAG], "W/\"1\"");
    assert_eq!(created.body["meta"]["version"], "W/\"1\"");
    assert_eq!(
        created.body[ENTERPRISE]["manager"]["value"],
        "0a21f0f2-manager"
    );
    assert!(created.body.get("title").is_none() && created.body.get("roles").is_none());

    // userName is unique without regard to case, and found that way.
    let found = s
        .get(&filter("/Users", "userName eq \"TEST_USER@CONTOSO.COM\""))
        .await;
    assert_eq!(found.body["totalResults"], 1);
    assert_eq!(found.body["Resources"][0]["id"], id.as_str());
    let duplicate = s.post("/Users", entra_user("test_user@contoso.com")).await;
    assert_error(&duplicate, 409, Some("uniqueness"));

    // One Replace per attribute, capitalised, booleans as strings, and the
    // filtered replace of a work email the user does not have yet.
    let second = s
        .create_user(json!({"userName": "no-email@contoso.com"}))
        .await;
    let patched = s
        .patch(
            &format!("/Users/{second}"),
            json!([
                {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "no-email@contoso.com"},
                {"op": "Replace", "path": "name.givenName", "value": "Nora"},
                {"op": "Add", "path": "externalId", "value": "ext-2"},
                {"op": "Replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber", "value": "42"},
                {"op": "Replace", "path": "active", "value": "True"}
            ]),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    assert_eq!(
        patched.body["emails"],
        json!([{"type": "work", "value": "no-email@contoso.com"}])
    );
    assert_eq!(patched.body["name"]["givenName"], "Nora");
    assert_eq!(patched.body[ENTERPRISE]["employeeNumber"], "42");
    assert_eq!(patched.headers[ETAG], "W/\"2\"");

    // Compliance mode: one no-path replace with dotted and URN keys.
    let compliant = s
        .patch(
            &format!("/Users/{second}"),
            json!([{"op": "replace", "value": {
                "name.familyName": "North",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "Sales",
                "active": false
            }}]),
        )
        .await;
    assert_eq!(compliant.status, StatusCode::OK, "{}", compliant.body);
    assert_eq!(compliant.body["name"]["familyName"], "North");
    assert_eq!(compliant.body[ENTERPRISE]["department"], "Sales");
    // Deactivated users stay visible, with `active` present.
    let inactive = s.get(&filter("/Users", "externalId eq \"ext-2\"")).await;
    assert_eq!(inactive.body["totalResults"], 1);
    assert_eq!(inactive.body["Resources"][0]["active"], false);

    let by_email = s
        .get(&filter(
            "/Users",
            "emails[type eq \"work\"].value eq \"no-email@contoso.com\" and active eq false",
        ))
        .await;
    assert_eq!(by_email.body["totalResults"], 1);
    assert_eq!(by_email.body["Resources"][0]["id"], second.as_str());

    let missing = s.get("/Users/00000000-0000-0000-0000-000000000000").await;
    assert_error(&missing, 404, None);

    assert_eq!(
        s.delete(&format!("/Users/{id}")).await.status,
        StatusCode::NO_CONTENT
    );
    assert_error(&s.get(&format!("/Users/{id}")).await, 404, None);

    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let logs = s.server.json_logs();
    for event in [
        "scim_user_created",
        "scim_user_updated",
        "scim_user_deactivated",
        "scim_user_deleted",
    ] {
        assert!(
            logs.iter()
                .any(|l| l["event"] == event && l["category"] == "security"),
            "{event}"
        );
    }
    let metrics = client()
        .get(s.server.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(r#"scim_requests_total{resource="User",op="create",status="201"} 2"#),
        "{metrics}"
    );
}

#[tokio::test]
async fn entra_id_and_okta_group_provisioning() {
    let s = Scim::start().await;
    let alice = s.create_user(json!({"userName": "alice"})).await;
    let bob = s.create_user(json!({"userName": "bob"})).await;

    // Entra: an extra schema URN, created empty, filled by PATCH with "$ref": null.
    let group = s
        .post(
            "/Groups",
            json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group", "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
                "displayName": "Sales",
                "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
                "members": []
            }),
        )
        .await;
    assert_eq!(group.status, StatusCode::CREATED, "{}", group.body);
    let gid = group.body["id"].as_str().unwrap().to_owned();
    let added = s
        .patch(
            &format!("/Groups/{gid}"),
            json!([{"op": "Add", "path": "members", "value": [
                {"$ref": null, "value": alice}, {"$ref": null, "value": bob}
            ]}]),
        )
        .await;
    assert_eq!(added.status, StatusCode::OK, "{}", added.body);
    assert_eq!(added.body["members"].as_array().unwrap().len(), 2);
    assert_eq!(added.body["members"][0]["type"], "User");

    let by_name = s
        .get(&format!(
            "{}&excludedAttributes=members",
            filter("/Groups", "displayName eq \"Sales\"")
        ))
        .await;
    assert_eq!(by_name.body["totalResults"], 1);
    assert!(by_name.body["Resources"][0].get("members").is_none());
    assert_eq!(by_name.body["Resources"][0]["displayName"], "Sales");

    // User.groups is derived, with nesting: Sales is a member of Company.
    let company = s
        .post(
            "/Groups",
            json!({"displayName": "Company", "members": [{"value": gid, "type": "Group"}]}),
        )
        .await;
    let company_id = company.body["id"].as_str().unwrap().to_owned();
    let alice_groups = s.get(&format!("/Users/{alice}")).await.body["groups"].clone();
    let kinds: Vec<(String, String)> = alice_groups
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["display"].as_str().unwrap().to_owned(),
                g["type"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("Sales".to_owned(), "direct".to_owned()),
            ("Company".to_owned(), "indirect".to_owned())
        ]
    );
    // A list renders the same groups as a single read (a page's memberships
    // are read in one call per level of nesting), with few or many groups.
    let listed = |reply: Reply| {
        reply.body["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["id"] == alice.as_str())
            .unwrap()["groups"]
            .clone()
    };
    assert_eq!(
        listed(s.get("/Users?attributes=groups").await),
        alice_groups
    );
    // And so does the lookup identity providers send, by userName (ignoring
    // case) or by id, which reads the user with its groups at once.
    for lookup in [
        "userName eq \"ALICE\"".to_owned(),
        format!("id eq \"{alice}\""),
    ] {
        let found = s.get(&filter("/Users", &lookup)).await;
        assert_eq!(found.body["totalResults"], 1, "{lookup}: {}", found.body);
        assert_eq!(listed(found), alice_groups, "{lookup}");
    }
    let without = s
        .get(&format!(
            "{}&excludedAttributes=groups",
            filter("/Users", "userName eq \"alice\"")
        ))
        .await;
    assert!(without.body["Resources"][0].get("groups").is_none());
    let many: Vec<Value> = (0..500)
        .map(|n| json!({"method": "POST", "path": "/Groups", "bulkId": format!("g{n}"), "data": {"displayName": format!("filler {n}")}}))
        .collect();
    let filled = s
        .post(
            "/Bulk",
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": many}),
        )
        .await;
    assert_eq!(filled.status, StatusCode::OK);
    assert_eq!(
        listed(s.get("/Users?attributes=groups").await),
        alice_groups
    );

    // groups is read-only.
    assert_error(
        &s.patch(
            &format!("/Users/{alice}"),
            json!([{"op": "add", "path": "groups", "value": [{"value": company_id}]}]),
        )
        .await,
        400,
        Some("mutability"),
    );

    // Entra's two removal shapes.
    let removed = s
        .patch(
            &format!("/Groups/{gid}"),
            json!([{"op": "Remove", "path": "members", "value": [{"value": alice}]}]),
        )
        .await;
    assert_eq!(
        removed.body["members"],
        json!([{"value": bob, "type": "User", "$ref": format!("{ISSUER}/scim/v2/Users/{bob}")}])
    );
    let removed = s
        .patch(
            &format!("/Groups/{gid}"),
            json!([{"op": "Remove", "path": format!("members[value eq \"{bob}\"]")}]),
        )
        .await;
    assert!(removed.body.get("members").is_none(), "{}", removed.body);

    // Okta group push: rename with id in the value, then remove + add in one request.
    let renamed = s
        .patch(
            &format!("/Groups/{gid}"),
            json!([{"op": "replace", "value": {"id": gid, "displayName": "Sales EMEA"}}]),
        )
        .await;
    assert_eq!(renamed.body["displayName"], "Sales EMEA");
    let swapped = s
        .patch(
            &format!("/Groups/{gid}"),
            json!([
                {"op": "remove", "path": format!("members[value eq \"{alice}\"]")},
                {"op": "add", "path": "members", "value": [{"value": bob, "display": "bob"}]}
            ]),
        )
        .await;
    assert_eq!(swapped.body["members"][0]["value"], bob.as_str());
    let replaced = s
        .patch(
            &format!("/Groups/{gid}"),
            json!([{"op": "replace", "path": "members", "value": [{"value": alice}]}]),
        )
        .await;
    assert_eq!(replaced.body["members"][0]["value"], alice.as_str());
    assert_eq!(replaced.body["members"].as_array().unwrap().len(), 1);

    // A member must exist.
    assert_error(
        &s.patch(
            &format!("/Groups/{gid}"),
            json!([{"op": "add", "path": "members", "value": [{"value": "nobody"}]}]),
        )
        .await,
        400,
        Some("invalidValue"),
    );

    // Deleting a user removes its memberships.
    assert_eq!(
        s.delete(&format!("/Users/{alice}")).await.status,
        StatusCode::NO_CONTENT
    );
    assert!(
        s.get(&format!("/Groups/{gid}"))
            .await
            .body
            .get("members")
            .is_none()
    );
    assert_eq!(
        s.delete(&format!("/Groups/{gid}")).await.status,
        StatusCode::NO_CONTENT
    );
    assert!(
        s.get(&format!("/Groups/{company_id}"))
            .await
            .body
            .get("members")
            .is_none()
    );
}

async fn okta_users(s: &Scim) {
    let created = s
        .post(
            "/Users",
            json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": "isaac.brock@example.com",
                "name": {"givenName": "Isaac", "familyName": "Brock"},
                "emails": [{"primary": true, "value": "isaac.brock@example.com", "type": "work"}],
                "displayName": "Isaac Brock",
                "locale": "en-US",
                "externalId": "00ujl29u0le5T6Aj10h7",
                "groups": [],
                "password": "1mz050nq",
                "active": true
            }),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let id = created.body["id"].as_str().unwrap().to_owned();
    assert!(created.body.get("password").is_none());
    // Not even when asked for.
    let asked = s
        .get(&format!("/Users/{id}?attributes=password,userName"))
        .await;
    assert!(asked.body.get("password").is_none(), "{}", asked.body);
    assert_eq!(asked.body["userName"], "isaac.brock@example.com");
    assert!(asked.body.get("name").is_none());

    // Profile update: PUT of the whole object as read, id, meta and groups included.
    let mut whole = s.get(&format!("/Users/{id}")).await.body;
    whole["name"]["familyName"] = json!("Brock-Smith");
    whole["groups"] = json!([]);
    let put = s.put(&format!("/Users/{id}"), whole).await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.body);
    assert_eq!(put.body["name"]["familyName"], "Brock-Smith");
    assert_eq!(put.body["meta"]["version"], "W/\"2\"");

    // Deactivate and password change: no-path replace.
    let off = s
        .patch(
            &format!("/Users/{id}"),
            json!([{"op": "replace", "value": {"active": false}}]),
        )
        .await;
    assert_eq!(off.body["active"], false);
    let password = s
        .patch(
            &format!("/Users/{id}"),
            json!([{"op": "replace", "value": {"password": "new-pa55word"}}]),
        )
        .await;
    assert_eq!(password.status, StatusCode::OK);
    assert!(password.body.get("password").is_none());

    // Imports page with count=100 and a stable order.
    for n in 0..230 {
        s.create_user(json!({"userName": format!("import-{n:03}")}))
            .await;
    }
    let mut seen = std::collections::BTreeSet::new();
    let mut start = 1;
    loop {
        let page = s.get(&format!("/Users?startIndex={start}&count=100")).await;
        assert_eq!(page.body["totalResults"], 231);
        assert_eq!(page.body["startIndex"], start);
        let resources = page.body["Resources"].as_array().unwrap();
        for r in resources {
            assert!(
                seen.insert(r["id"].as_str().unwrap().to_owned()),
                "seen twice"
            );
        }
        if resources.len() < 100 {
            break;
        }
        start += 100;
    }
    assert_eq!(seen.len(), 231);
}

#[tokio::test]
async fn okta_user_provisioning_and_import() {
    okta_users(&Scim::start().await).await;
}

#[tokio::test]
async fn okta_user_provisioning_and_import_on_redis() {
    let redis = store_redis::testing::TestRedis::start().unwrap_or_else(|e| panic!("{e}"));
    okta_users(&Scim::start_with(&[("AUTH_STORE", redis.url.as_str())]).await).await;
}

#[tokio::test]
async fn versions_etags_and_preconditions() {
    let s = Scim::start().await;
    let id = s.create_user(json!({"userName": "etag"})).await;
    let path = format!("/Users/{id}");
    let current = s.get(&path).await;
    assert_eq!(current.headers[ETAG], "W/\"1\"");
    let unchanged = s
        .call_as(
            Some(&s.token),
            Method::GET,
            &path,
            None,
            &[("if-none-match", "W/\"1\"")],
        )
        .await;
    assert_eq!(unchanged.status, StatusCode::NOT_MODIFIED);

    let stale = s
        .call_as(
            Some(&s.token),
            Method::PUT,
            &path,
            Some(json!({"userName": "etag", "nickName": "x"})),
            &[("if-match", "W/\"7\"")],
        )
        .await;
    assert_error(&stale, 412, None);
    let fresh = s
        .call_as(
            Some(&s.token),
            Method::PUT,
            &path,
            Some(json!({"userName": "etag", "nickName": "x"})),
            &[("if-match", "W/\"1\"")],
        )
        .await;
    assert_eq!(fresh.status, StatusCode::OK);
    assert_eq!(fresh.headers[ETAG], "W/\"2\"");
    // A write that changes nothing keeps the version.
    let same = s
        .put(&path, json!({"userName": "etag", "nickName": "x"}))
        .await;
    assert_eq!(same.headers[ETAG], "W/\"2\"");
    let changed = s
        .call_as(
            Some(&s.token),
            Method::GET,
            &path,
            None,
            &[("if-none-match", "W/\"1\"")],
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK);
    assert_error(
        &s.call_as(
            Some(&s.token),
            Method::DELETE,
            &path,
            None,
            &[("if-match", "W/\"1\"")],
        )
        .await,
        412,
        None,
    );
}

#[tokio::test]
async fn searching_sorting_projecting_and_refusing_bad_input() {
    let s = Scim::start().await;
    for (name, title) in [("carol", "B"), ("Alice", "C"), ("bob", "A")] {
        s.create_user(json!({"userName": name, "title": title, "emails": [{"value": format!("{name}@x.example"), "type": "work"}]}))
            .await;
    }
    let sorted = s.get("/Users?sortBy=userName&attributes=userName").await;
    let names: Vec<&str> = sorted.body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["userName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Alice", "bob", "carol"]);
    assert!(sorted.body["Resources"][0].get("title").is_none());
    assert!(sorted.body["Resources"][0].get("id").is_some());

    let search = s
        .post(
            "/Users/.search",
            json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                "filter": "title sw \"b\" or emails.value co \"alice\"",
                "sortBy": "title",
                "sortOrder": "descending",
                "attributes": ["title"],
                "startIndex": 1,
                "count": 10
            }),
        )
        .await;
    assert_eq!(search.status, StatusCode::OK, "{}", search.body);
    let titles: Vec<&str> = search.body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["C", "B"]);

    let root = s
        .post(
            "/.search",
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": "meta.resourceType eq \"User\""}),
        )
        .await;
    assert_eq!(root.body["totalResults"], 3);

    let bad = s.get(&filter("/Users", "userName eq")).await;
    assert_error(&bad, 400, Some("invalidFilter"));
    assert!(bad.body["detail"].as_str().unwrap().contains("character"));
    assert_error(
        &s.get(&filter("/Users", "active gt true")).await,
        400,
        Some("invalidFilter"),
    );
    assert_error(&s.get("/Users?count=ten").await, 400, Some("invalidValue"));
    assert_error(
        &s.call_as(
            Some(&s.token),
            Method::POST,
            "/Users",
            Some(Value::String("{".into())),
            &[],
        )
        .await,
        400,
        Some("invalidSyntax"),
    );
    assert_error(
        &s.post("/Users", json!({"userName": "x", "active": "perhaps"}))
            .await,
        400,
        Some("invalidValue"),
    );
    assert_error(
        &s.post("/Users", json!({"name": {}})).await,
        400,
        Some("invalidValue"),
    );
    // docs/security.md 10: at least 8 characters.
    let short = s
        .post(
            "/Users",
            json!({"userName": "shorty", "password": "1234567"}),
        )
        .await;
    assert_error(&short, 400, Some("invalidValue"));
    assert!(
        short.body["detail"]
            .as_str()
            .unwrap()
            .contains("at least 8")
    );
    assert_error(&s.get("/Nope").await, 404, None);
    assert_error(&s.delete("/Users").await, 405, None);
}

#[tokio::test]
async fn bulk_with_references_limits_and_fail_on_errors() {
    let s = Scim::start().await;
    let bulk = |operations: Value, fail_on_errors: Option<u64>| {
        let mut body = json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
            "Operations": operations,
        });
        if let Some(n) = fail_on_errors {
            body["failOnErrors"] = json!(n);
        }
        body
    };
    // The group is listed first and references users created later.
    let reply = s
        .post(
            "/Bulk",
            bulk(
                json!([
                    {"method": "POST", "path": "/Groups", "bulkId": "g", "data": {
                        "displayName": "Tour Guides",
                        "members": [{"type": "User", "value": "bulkId:u1"}, {"type": "User", "value": "bulkId:u2"}]
                    }},
                    {"method": "POST", "path": "/Users", "bulkId": "u1", "data": {"userName": "alice"}},
                    {"method": "POST", "path": "/Users", "bulkId": "u2", "data": {"userName": "bob"}},
                    {"method": "PATCH", "path": "/Users/bulkId:u2", "data": {
                        "schemas": [PATCH_OP], "Operations": [{"op": "add", "path": "nickName", "value": "Bobby"}]
                    }}
                ]),
                None,
            ),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let ops = reply.body["Operations"].as_array().unwrap();
    let statuses: Vec<&str> = ops.iter().map(|o| o["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["201", "201", "201", "200"]);
    let group = ops.iter().find(|o| o["bulkId"] == "g").unwrap();
    let group = s
        .get(
            group["location"]
                .as_str()
                .unwrap()
                .trim_start_matches(&format!("{ISSUER}/scim/v2")),
        )
        .await;
    assert_eq!(group.body["members"].as_array().unwrap().len(), 2);

    // failOnErrors: 1 stops after the first failure.
    let reply = s
        .post(
            "/Bulk",
            bulk(
                json!([
                    {"method": "POST", "path": "/Users", "bulkId": "dup", "data": {"userName": "alice"}},
                    {"method": "POST", "path": "/Users", "bulkId": "c", "data": {"userName": "carol"}}
                ]),
                Some(1),
            ),
        )
        .await;
    let ops = reply.body["Operations"].as_array().unwrap();
    assert_eq!(ops.len(), 1);
    assert_eq!(ops[0]["status"], "409");
    assert_eq!(ops[0]["response"]["scimType"], "uniqueness");
    assert_eq!(
        s.get(&filter("/Users", "userName eq \"carol\"")).await.body["totalResults"],
        0
    );

    // A reference to a failed operation fails too.
    let reply = s
        .post(
            "/Bulk",
            bulk(
                json!([
                    {"method": "POST", "path": "/Users", "bulkId": "bad", "data": {"userName": ""}},
                    {"method": "POST", "path": "/Groups", "bulkId": "g2", "data": {"displayName": "G", "members": [{"value": "bulkId:bad"}]}},
                    {"method": "POST", "path": "/Groups", "bulkId": "g3", "data": {"displayName": "H", "members": [{"value": "bulkId:nowhere"}]}}
                ]),
                None,
            ),
        )
        .await;
    let statuses: Vec<&str> = reply.body["Operations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["400", "400", "400"]);

    // Limits from ServiceProviderConfig are enforced with 413.
    let many: Vec<Value> = (0..1001)
        .map(|n| json!({"method": "POST", "path": "/Users", "bulkId": format!("b{n}"), "data": {"userName": format!("u{n}")}}))
        .collect();
    assert_error(&s.post("/Bulk", bulk(json!(many), None)).await, 413, None);
    let big = "x".repeat(1024 * 1024);
    assert_error(
        &s.post(
            "/Bulk",
            bulk(
                json!([{"method": "POST", "path": "/Users", "bulkId": "big", "data": {"userName": big}}]),
                None,
            ),
        )
        .await,
        413,
        None,
    );
}

/// Third-party suites: scim2-tester and scim-sanity, with the few checks we
/// disagree with listed and explained in scripts/scim_conformance.py.
#[tokio::test]
async fn third_party_conformance_suites_pass() {
    let python = crate::ops_kit::python();
    let s = Scim::start_with(&[("AUTH_ISSUER", "self")]).await;
    let script = format!(
        "{}/../../scripts/scim_conformance.py",
        env!("CARGO_MANIFEST_DIR")
    );
    let base = s.server.url("/scim/v2");
    let token = s.token.clone();
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(&python)
            .args([script.as_str(), base.as_str(), token.as_str()])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "conformance failures:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("scim2-tester: ") && stdout.contains("scim-sanity: "));
}
