-- Runs once in a client script's Lua state, before the script. It turns
-- the errors of the Rust-made API functions into what Lua's own functions
-- raise: a one-line string naming the script line that called
-- (`script.lua:4: pub: NACK 24: access denied`). It receives the raw
-- connection methods and the module, and returns the wrapped methods.
local methods, module = ...
local pack, unpack, pcall, error, tostring, type = table.pack, table.unpack, pcall, error, tostring, type

local function wrap(f)
  return function(...)
    local r = pack(pcall(f, ...))
    if r[1] then
      return unpack(r, 2, r.n)
    end
    local e = r[2]
    if type(e) ~= "string" then
      -- A Rust error: its first line is the message, then a traceback.
      e = tostring(e):match("^[^\n]*"):gsub("^runtime error: ", "")
    end
    -- An error that already says where it happened (a callback's) keeps
    -- its place; others are placed at the caller's line.
    if e:match("^[^\n:]+:%d+: ") then
      error(e, 0)
    end
    error(e, 2)
  end
end

local wrapped = {}
for name, f in pairs(methods) do
  wrapped[name] = wrap(f)
end
for _, name in ipairs({ "connect", "after", "every", "run", "sleep" }) do
  module[name] = wrap(module[name])
end
return wrapped
