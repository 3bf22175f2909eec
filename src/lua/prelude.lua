-- Runs once in a fresh Lua state, before any script. It narrows what
-- scripts can reach so that none can stop the process or block the server's
-- loop, and makes the instruction budget impossible to swallow. It receives
-- the host's function telling whether the current call ran out of budget.
local exhausted = ...
local error, rawpcall, rawxpcall, rawload = error, pcall, xpcall, load
local resume, close, lines = coroutine.resume, coroutine.close, io.lines

-- Once the budget is spent, protected calls re-raise instead of returning
-- false: otherwise `while true do pcall(f) end` would never end.
local function pass(ok, ...)
  if not ok and exhausted() then
    error((...), 0)
  end
  return ok, ...
end
pcall = function(...) return pass(rawpcall(...)) end
xpcall = function(...) return pass(rawxpcall(...)) end
coroutine.resume = function(...) return pass(resume(...)) end
coroutine.close = function(...) return pass(close(...)) end

-- Lua runs finalizers with hooks off, so a __gc metamethod could loop past
-- the budget: a metatable holding one is refused (Lua only looks for __gc
-- when the metatable is set, so adding it later has no effect).
local rawsetmetatable, rawget, type = setmetatable, rawget, type
setmetatable = function(t, mt)
  if type(mt) == "table" and rawget(mt, "__gc") ~= nil then
    error("__gc metamethods are not available to scripts", 2)
  end
  return rawsetmetatable(t, mt)
end

-- Text chunks only: Lua does not verify precompiled bytecode. The
-- environment argument is passed on only when given (nil is a value).
load = function(chunk, name, _, ...)
  return rawload(chunk, name, "t", ...)
end
string.dump = nil
dofile, loadfile = nil, nil

-- Ending the process, running programs and reading standard input would
-- stop or block every client. Files stay reachable through io.open.
os.exit, os.execute, io.popen = nil, nil, nil
io.read, io.input, io.stdin = nil, nil, nil
io.lines = function(name, ...)
  if name == nil then
    error("io.lines needs a file name (standard input is not available)", 2)
  end
  return lines(name, ...)
end
