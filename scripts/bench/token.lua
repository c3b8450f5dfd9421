-- wrk script: client_credentials at /token, with HTTP Basic credentials
-- from CLIENT_ID and CLIENT_SECRET, and with PROOFS (a file from
-- gen_proofs.py) a fresh DPoP proof per request, each thread taking its
-- own share of the lines.
-- THREADS must be wrk's -t.
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end

function init(args)
  local total = tonumber(os.getenv("THREADS") or "1")
  proofs = {}
  local file = os.getenv("PROOFS")
  if file then
    local n = 0
    for line in io.lines(file) do
      if n % total == id then
        table.insert(proofs, line)
      end
      n = n + 1
    end
  end
  next_proof = 1
  auth = "Basic " .. os.getenv("BASIC")
end

function request()
  local headers = {
    ["Authorization"] = auth,
    ["Content-Type"] = "application/x-www-form-urlencoded",
  }
  if #proofs > 0 then
    headers["DPoP"] = proofs[next_proof]
    next_proof = next_proof + 1
    if next_proof > #proofs then
      next_proof = 1
    end
  end
  return wrk.format("POST", "/token", headers, "grant_type=client_credentials")
end
