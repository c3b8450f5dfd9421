//! The cost of reading a stored client record: every token request reads
//! one (client authentication), so its parse is on the token endpoint's
//! hot path.
//!
//!     cargo bench -p store --bench records

#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{Criterion, criterion_group, criterion_main};
use store::{ClientMetadata, ClientRecord};

fn client() -> String {
    serde_json::to_string(&ClientRecord {
        client_id: "8f14e45f-ceea-467f-a0e6-1b3c1ab4e3d9".into(),
        name: "Billing service".into(),
        secret_hash: Some("v1$k7Jq3GzZx2m9Yb4Vt8Ns1Rp6Lc0Wd5Hf".into()),
        public: false,
        grant_types: vec!["client_credentials".into()],
        redirect_uris: vec![],
        scopes: vec!["invoices:read".into(), "invoices:write".into()],
        token_endpoint_auth_method: "client_secret_basic".into(),
        created_at: 1_800_000_000,
        metadata: ClientMetadata {
            access_token_ttl: Some(600),
            ..ClientMetadata::default()
        },
    })
    .unwrap()
}

fn parse(c: &mut Criterion) {
    let json = client();
    c.bench_function("client_record_parse", |b| {
        b.iter(|| serde_json::from_str::<ClientRecord>(std::hint::black_box(&json)).unwrap());
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(std::time::Duration::from_secs(3));
    targets = parse
}
criterion_main!(benches);
