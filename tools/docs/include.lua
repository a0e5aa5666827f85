-- include.lua -- pandoc filter: code and output in decks and handouts come from
-- the compiled sources, never from pasting.
--
--   ```{.c include="lessons/03-event-lifecycle/lifecycle.c" snippet="pending"}
--   ```
-- is replaced by the lines between "// [pending]" and "// [/pending]" in that
-- file (dedented). A missing file or marker stops the build.
--
--   ```{.output run="lessons/01-supported-methods/supported_methods" args="--ignore-env" env="EVENT_NOEPOLL=1"}
--   ```
-- is replaced by what that program prints (stdout and stderr) when run now
-- from $EVLAB_BUILD (default build/), with long hex addresses masked.
--
-- With the metadata field `evlab-lesson: NN-slug`, every marker in
-- lessons/NN-slug/*.c must be used by this document: an unused marker stops
-- the build too, so a deck never silently falls behind its sources.

local build = os.getenv("EVLAB_BUILD") or "build"
local used = {}

local function fail(msg)
  io.stderr:write("include.lua: " .. msg .. "\n")
  os.exit(1)
end

local function read_file(path)
  local f = io.open(path, "r")
  if not f then fail("cannot open " .. path) end
  local text = f:read("a")
  f:close()
  return text
end

local function snippet(path, name)
  local lines, inside, found = {}, false, false
  for line in (read_file(path) .. "\n"):gmatch("(.-)\n") do
    local tag = line:match("^%s*//%s*%[(/?[%w_%-]+)%]%s*$")
    if tag == name then inside, found = true, true
    elseif tag == "/" .. name then inside = false
    elseif inside and not tag then table.insert(lines, line)
    end
  end
  if not found then fail("no marker // [" .. name .. "] in " .. path) end
  if #lines == 0 then fail("marker // [" .. name .. "] in " .. path .. " is empty") end
  local indent = math.huge
  for _, l in ipairs(lines) do
    if l:match("%S") then indent = math.min(indent, #l:match("^(%s*)")) end
  end
  for i, l in ipairs(lines) do lines[i] = l:sub(indent + 1) end
  used[path .. "#" .. name] = true
  return table.concat(lines, "\n")
end

local function shell_quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

local function run(prog, args, env)
  local cmd = "env"
  for kv in (env or ""):gmatch("%S+") do cmd = cmd .. " " .. shell_quote(kv) end
  cmd = cmd .. " EVLAB_STEP=0 " .. shell_quote(build .. "/" .. prog) .. " " .. (args or "")
    .. " </dev/null 2>&1"
  local p = io.popen(cmd, "r")
  if not p then fail("cannot run " .. prog) end
  local out = p:read("a")
  local ok, _, code = p:close()
  if out == "" and not ok then fail(prog .. " failed (exit " .. tostring(code) .. ") with no output") end
  out = out:gsub("0x%x%x%x%x%x%x+", "0xADDR")
  return (out:gsub("%s+$", ""))
end

local function code_block(el)
  local inc, snip = el.attributes["include"], el.attributes["snippet"]
  if inc then
    if not snip then fail("include=" .. inc .. " needs snippet=NAME") end
    el.text = snippet(inc, snip)
    el.attributes["include"], el.attributes["snippet"] = nil, nil
    return el
  end
  local prog = el.attributes["run"]
  if prog then
    el.text = run(prog, el.attributes["args"], el.attributes["env"])
    el.attributes["run"], el.attributes["args"], el.attributes["env"] = nil, nil, nil
    return el
  end
end

local function check_unused(doc)
  local lesson = doc.meta["evlab-lesson"]
  if lesson then
    lesson = pandoc.utils.stringify(lesson)
    local ls = io.popen("ls lessons/" .. lesson .. "/*.c 2>/dev/null")
    for path in ls:lines() do
      for name in read_file(path):gmatch("\n%s*//%s*%[([%w_%-]+)%]") do
        if not used[path .. "#" .. name] then
          fail("marker // [" .. name .. "] in " .. path .. " is not used by the " .. lesson .. " deck")
        end
      end
    end
    ls:close()
  end
  return doc
end

return {{CodeBlock = code_block}, {Pandoc = check_unused}}
