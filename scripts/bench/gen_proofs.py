"""Writes N DPoP proofs for POST URL, one per line, all by one ES256 key
(as one client's are), each with its own jti: the input of token.lua.

Usage: gen_proofs.py URL N OUT
"""

import json
import sys
import time
import uuid

from jwcrypto import jwk, jws

url, count, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
key = jwk.JWK.generate(kty="EC", crv="P-256")
header = json.dumps({"typ": "dpop+jwt", "alg": "ES256", "jwk": json.loads(key.export_public())})
now = int(time.time())
with open(out, "w") as f:
    for _ in range(count):
        proof = jws.JWS(json.dumps({"jti": str(uuid.uuid4()), "htm": "POST", "htu": url, "iat": now}))
        proof.add_signature(key, alg="ES256", protected=header)
        f.write(proof.serialize(compact=True) + "\n")
