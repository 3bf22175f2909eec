-- ducq lua clients/pub.lua ROUTE PAYLOAD...
-- Publishes each PAYLOAD on ROUTE, in order, and prints "ok" once the
-- server acknowledged them all.
local route = assert(arg[1], "usage: ducq lua pub.lua ROUTE PAYLOAD...")
local c = Ducq.connect()
for i = 2, #arg do
  c:pub(route, arg[i])
end
c:close()
print("ok")
