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
-- steps="2 3" keeps only the program's "== 2." and "== 3." sections (steps="all":
-- everything from the first step on);
-- omit="^ready" drops the lines that match a Lua pattern (a pid, say);
-- status="N" declares an expected non-zero exit (otherwise it fails the build).
--
-- from="TEXT" to="TEXT" (with include=) keep a part of the snippet: from the
-- first line containing TEXT (plain text, not a pattern) through the first
-- line after it containing the `to` TEXT; either missing stops the build;
-- lines="A-B" keeps the snippet's lines A to B (1 is the first). A
-- deck shows a long function one step a slide this way, without new markers.
--
-- ::: notes divs (speaker notes) are kept only with `-M instructor=true`: the
-- student decks do not carry them.
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
  local lines, inside, found, closed = {}, false, false, false
  for line in (read_file(path) .. "\n"):gmatch("(.-)\n") do
    local tag = line:match("^%s*//%s*%[(/?[%w_%-]+)%]%s*$")
    if tag == name then inside, found = true, true
    elseif tag == "/" .. name then inside, closed = false, true
    elseif inside and not tag then table.insert(lines, line)
    end
  end
  if not found then fail("no marker // [" .. name .. "] in " .. path) end
  if not closed then fail("marker // [" .. name .. "] in " .. path .. " has no closing // [/" .. name .. "]") end
  if #lines == 0 then fail("marker // [" .. name .. "] in " .. path .. " is empty") end
  local indent = math.huge
  for _, l in ipairs(lines) do
    if l:match("%S") then indent = math.min(indent, #l:match("^(%s*)")) end
  end
  for i, l in ipairs(lines) do lines[i] = l:sub(indent + 1) end
  used[path .. "#" .. name] = true
  return table.concat(lines, "\n")
end

-- Words of an args="..." attribute, split at spaces. No shell runs: a pipe or
-- a redirection in args is an error, not a feature.
local function words(s)
  local out = {}
  for w in (s or ""):gmatch("%S+") do
    if w:match("^%d?[|<>]") then
      fail("args may not contain '" .. w .. "': use steps=\"N ...\" to select steps")
    end
    table.insert(out, w)
  end
  return out
end

-- Keep only the "== N. ..." sections of a lesson program's narration.
local function select_steps(out, steps)
  if not steps then return out end
  local want = {}
  for n in steps:gmatch("%d+") do want[n] = true end
  local all = steps == "all"
  local keep, kept = false, {}
  for line in (out .. "\n"):gmatch("(.-)\n") do
    local n = line:match("^== (%d+)%.")
    if n then keep = all or want[n] or false end
    if keep then table.insert(kept, line) end
  end
  if #kept == 0 then fail("steps=\"" .. steps .. "\" selected nothing") end
  return table.concat(kept, "\n")
end

-- Runs build/PROG with args and env (no shell, stdin empty, stderr merged) and
-- returns what it printed. The exit status must be `status` (default 0): a
-- program that is missing, crashes or fails stops the build.
local function run(prog, args, env, status)
  local path = build .. "/" .. prog
  if not io.open(path, "r") then fail(path .. " is not built") end
  local argv = {"-i", "EVLAB_STEP=0", "PATH=" .. (os.getenv("PATH") or "/usr/bin:/bin")}
  for kv in (env or ""):gmatch("%S+") do table.insert(argv, kv) end
  table.insert(argv, "/bin/sh")
  table.insert(argv, "-c")
  table.insert(argv, 'exec "$@" </dev/null 2>&1; ')
  table.insert(argv, "sh")
  table.insert(argv, path)
  for _, w in ipairs(words(args)) do table.insert(argv, w) end
  local ok, out = pcall(pandoc.pipe, "/usr/bin/env", argv, "")
  local code = 0
  if not ok then
    code = out.error_code or -1
    out = out.output or ""
  end
  local want = tonumber(status or "0")
  if code ~= want then
    fail(prog .. " " .. (args or "") .. ": exit status " .. tostring(code) .. ", expected " ..
         tostring(want) .. " (declare status=\"N\" if that is the point)\n" .. out)
  end
  out = out:gsub("0x%x%x%x%x%x%x+", "0xADDR")
  return (out:gsub("%s+$", ""))
end

-- Lines of `text` from the first containing `from` through the first (at or
-- after it) containing `to`; nil bounds mean the snippet's first or last line.
local function part(text, from, to, range, where)
  if not from and not to and not range then return text end
  local lines = {}
  for line in (text .. "\n"):gmatch("(.-)\n") do table.insert(lines, line) end
  local a, b = 1, #lines
  if range then
    a, b = range:match("^(%d+)%-(%d+)$")
    a, b = tonumber(a), tonumber(b)
    if not a or a < 1 or b < a or b > #lines then
      fail(where .. ": lines=\"" .. range .. "\" is not within the snippet's " .. #lines .. " lines")
    end
  end
  if from then
    a = nil
    for i, l in ipairs(lines) do
      if l:find(from, 1, true) then a = i; break end
    end
    if not a then fail(where .. ": from=\"" .. from .. "\" matches no line") end
  end
  if to then
    b = nil
    for i = a, #lines do
      if lines[i]:find(to, 1, true) then b = i; break end
    end
    if not b then fail(where .. ": to=\"" .. to .. "\" matches no line at or after from=") end
  end
  -- Closing braces of blocks opened before the part are not shown.
  local first = #(lines[a]:match("^(%s*)"))
  while b > a and lines[b]:match("^%s*}%s*$") and #(lines[b]:match("^(%s*)")) < first do b = b - 1 end
  local kept, indent = {}, math.huge
  for i = a, b do
    table.insert(kept, lines[i])
    if lines[i]:match("%S") then indent = math.min(indent, #lines[i]:match("^(%s*)")) end
  end
  if indent == math.huge then indent = 0 end
  for i, l in ipairs(kept) do kept[i] = l:sub(indent + 1) end
  return table.concat(kept, "\n")
end

local function code_block(el)
  local inc, snip = el.attributes["include"], el.attributes["snippet"]
  if inc then
    if not snip then fail("include=" .. inc .. " needs snippet=NAME") end
    el.text = part(snippet(inc, snip), el.attributes["from"], el.attributes["to"],
                   el.attributes["lines"], inc .. " [" .. snip .. "]")
    for _, k in ipairs({"include", "snippet", "from", "to", "lines"}) do el.attributes[k] = nil end
    return el
  end
  local prog = el.attributes["run"]
  if prog then
    local out = run(prog, el.attributes["args"], el.attributes["env"], el.attributes["status"])
    out = select_steps(out, el.attributes["steps"])
    local omit = el.attributes["omit"]
    if omit then
      local kept = {}
      for line in (out .. "\n"):gmatch("(.-)\n") do
        if not line:match(omit) then table.insert(kept, line) end
      end
      out = table.concat(kept, "\n")
    end
    el.text = out
    for _, k in ipairs({"run", "args", "env", "status", "steps", "omit"}) do el.attributes[k] = nil end
    return el
  end
end

local function check_unused(doc)
  if not doc.meta["instructor"] then
    doc = doc:walk({Div = function(d)
      if d.classes:includes("notes") then return {} end
    end})
  end
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

-- A list that starts at 5 must print as 5 in the PDF too: weasyprint ignores
-- <ol start>, so the start also goes into the list's counter.
local function ordered_list(el)
  if not FORMAT:match("html") or el.start == 1 then return nil end
  local html = pandoc.write(pandoc.Pandoc({el}), "html")
  html = html:gsub("^<ol start=\"(%d+)\"", function(n)
    return "<ol start=\"" .. n .. "\" style=\"counter-reset: list-item " .. (tonumber(n) - 1) .. "\""
  end, 1)
  return pandoc.RawBlock("html", html)
end

return {{CodeBlock = code_block}, {OrderedList = ordered_list}, {Pandoc = check_unused}}
