-- Replays pre-signed Twilio status callbacks, each used once: one per line of the file named by
-- the environment variable BENCH_REQUESTS ("signature<TAB>path<TAB>form-body"; the path carries
-- ?message=<our id>, which is signed). Each wrk thread takes its own stride of the lines, in
-- which every message's "sent" comes well before its "delivered", so no request is sent twice.
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end

function init(args)
  requests_list = {}
  local path = os.getenv("BENCH_REQUESTS")
  local stride = tonumber(os.getenv("BENCH_THREADS"))
  local index = 0
  for line in io.lines(path) do
    if index % stride == id then
      local tab = line:find("\t", 1, true)
      local tab2 = line:find("\t", tab + 1, true)
      table.insert(requests_list, {line:sub(1, tab - 1), line:sub(tab + 1, tab2 - 1), line:sub(tab2 + 1)})
    end
    index = index + 1
  end
  position = 0
end

function request()
  position = position + 1
  local item = requests_list[((position - 1) % #requests_list) + 1]
  -- The headers Twilio sends with a status callback.
  return wrk.format("POST", item[2], {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["X-Twilio-Signature"] = item[1],
    ["User-Agent"] = "TwilioProxy/1.1",
    ["Accept"] = "*/*",
    ["Cache-Control"] = "max-age=259200",
    ["X-Home-Region"] = "us1",
  }, item[3])
end
