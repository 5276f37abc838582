-- ecq2pcap-generated: Wireshark post-dissector for ecq2pcap captures (installed by `ecq2pcap wireshark install`,
-- removed by `ecq2pcap wireshark uninstall`).
--
-- ecq2pcap writes eCapture's process information into packet comments: the first packet of each connection (its SYN)
-- names pid, tid, comm, fd, uuids, eCapture's version and the real server and client ports; the first segment of every
-- event names that event's pid, tid, comm, fd and uuid. This post-dissector turns them into fields on EVERY packet of
-- the connection (handshake, ACKs and FIN included), keyed by TCP stream:
--   ecapture.pid  ecapture.tid  ecapture.comm  ecapture.fd  ecapture.uuid  ecapture.version  ecapture.real_port
--   ecapture.real_client_port (a connection shown from another client port: its 4-tuple was open in another)
--   ecapture.connection
-- so that  ecapture.comm == "nginx"  selects whole connections, and the fields can be columns.
-- A packet that carries its own event comment shows that event's tid and uuid; the others show the connection's.

local proto = Proto("ecapture", "eCapture process (ecq2pcap)")

local pf = {
    pid = ProtoField.uint32("ecapture.pid", "PID"),
    tid = ProtoField.uint32("ecapture.tid", "TID"),
    comm = ProtoField.string("ecapture.comm", "Process name"),
    fd = ProtoField.int32("ecapture.fd", "File descriptor"),
    uuid = ProtoField.string("ecapture.uuid", "eCapture uuid"),
    version = ProtoField.string("ecapture.version", "eCapture version"),
    real_port = ProtoField.uint16("ecapture.real_port", "Real server port"),
    real_client_port = ProtoField.uint16("ecapture.real_client_port", "Real client port"),
    connection = ProtoField.uint32("ecapture.connection", "ecq2pcap connection"),
}
proto.fields = { pf.pid, pf.tid, pf.comm, pf.fd, pf.uuid, pf.version, pf.real_port, pf.real_client_port, pf.connection }

local f_comment = Field.new("frame.comment")
local f_stream = Field.new("tcp.stream")

local conns = {} -- tcp.stream -> connection info (from its first commented packets)

function proto.init()
    conns = {}
end

local function split(text, sep)
    local out, start = {}, 1
    while true do
        local i, j = text:find(sep, start, true)
        if not i then
            out[#out + 1] = text:sub(start)
            return out
        end
        out[#out + 1] = text:sub(start, i - 1)
        start = j + 1
    end
end

-- a process name that holds one of the comments' own words (" uuid ", "; connection ", ...) is written quoted, with
-- \ and " escaped: its text, and where its closing quote is (text:sub(i, i) is the opening one)
local function unquote(text, i)
    local out, j = {}, i + 1
    while j <= #text do
        local ch = text:sub(j, j)
        if ch == "\\" then
            out[#out + 1] = text:sub(j + 1, j + 1)
            j = j + 2
        elseif ch == '"' then
            return table.concat(out), j
        else
            out[#out + 1] = ch
            j = j + 1
        end
    end
    return nil
end

-- where a comment goes on after its quoted process name (1: it has none), and after the name's copy in the uuid that
-- follows it in an event's comment ("... comm "N" fd 5 uuid 1_1_N_5_...")
local function after_name(text)
    local s = text:find(' comm "', 1, true)
    if not s then
        return 1
    end
    local name, j = unquote(text, s + 6)
    if not name then
        return 1
    end
    local lead = text:match("^ fd %-?%d+ uuid ", j + 1) or text:match("^ uuid ", j + 1)
    if lead then
        local k = text:find(name, j + 1 + #lead, true)
        if k then
            return k + #name
        end
    end
    return j + 1
end

-- "pid 1 tid 2 comm some name fd 5 uuid X" (tid, fd and uuid optional; the name maybe quoted)
local function parse_head(text, r)
    local pid, rest = text:match("^pid (%d+)(.*)$")
    if not pid then
        return false
    end
    r.pid = tonumber(pid)
    local tid, after = rest:match("^ tid (%d+)(.*)$")
    if tid then
        r.tid = tonumber(tid)
        rest = after
    end
    local body = rest:match("^ comm (.*)$")
    if body and body:sub(1, 1) == '"' then
        local name, j = unquote(body, 1)
        if name then
            r.comm = name
            local tail = body:sub(j + 1)
            local fd, more = tail:match("^ fd (%-?%d+)(.*)$")
            if fd then
                r.fd, tail = tonumber(fd), more
            end
            r.uuid = tail:match("^ uuid (.*)$")
            return true
        end
    end
    if body then
        local before, uuid = body:match("^(.-) uuid (.*)$")
        if before then
            body = before
            r.uuid = uuid
        end
        local comm, fd = body:match("^(.-) fd (%-?%d+)$")
        if comm then
            r.comm, r.fd = comm, tonumber(fd)
        else
            r.comm = body
        end
    end
    return true
end

-- where what ecq2pcap says after a comment's head (pid, tid, comm, fd, uuid) begins: a process name, and the uuid
-- that holds it, may hold "; " themselves (prctl takes any bytes but NUL)
local AFTER_HEAD = { "; connection ", "; eCapture ", "; module ", "; captured process " }

local function head_end(text, from) -- (from: after_name(text))
    local best = nil
    for _, marker in ipairs(AFTER_HEAD) do
        local i = text:find(marker, from, true)
        if i and (not best or i < best) then
            best = i
        end
    end
    return best
end

-- one packet comment -> what it says ({} when it is not ours)
local function parse(text)
    local r = {}
    local from = after_name(text) -- (once a packet: the head's end and a SYN's uuid are looked for after it)
    local cut = head_end(text, from)
    local parts = cut and split(text:sub(cut + 2), "; ") or {}
    table.insert(parts, 1, cut and text:sub(1, cut - 1) or text)
    local first = parts[1]
    local conn, head = first:match("^ecq2pcap connection (%d+): (.*)$")
    if conn then
        r.connection = tonumber(conn)
        r.opening = true
        parse_head(head, r)
    elseif not parse_head(first, r) then
        return r
    end
    local at = r.opening and text:find("; uuid ", from, true)
    if at then -- a SYN's uuid, after its facts: it holds the process name, which may hold "; "
        local u = text:sub(at + 7)
        local k = r.comm and u:find(r.comm, 1, true)
        local e = u:find("; ", k and k + #r.comm or 1, true)
        r.uuid = e and u:sub(1, e - 1) or u
        if cut and cut < at then -- the parts are those around the uuid, not the name's ("x; connection 3 c2s")
            parts = split(text:sub(cut + 2, at - 1), "; ")
            for _, p in ipairs(e and split(u:sub(e + 2), "; ") or {}) do
                parts[#parts + 1] = p
            end
            table.insert(parts, 1, first)
        end
    end
    for i = 2, #parts do
        local p = parts[i]
        local n = p:match("^connection (%d+) ")
        if n then
            r.connection = tonumber(n)
        end
        local v = p:match("^eCapture (%S+)$")
        if v then
            r.version = v
        end
        local real = p:match("^server port (%d+) shown as %d+")
        if real then
            r.real_port = tonumber(real)
        end
        local client = p:match("^client port (%d+) shown as %d+")
        if client then
            r.real_client_port = tonumber(client)
        end
        local uuids = p:match("^uuid (.*)$")
        if uuids and not r.uuid then
            r.uuid = split(uuids, ", ")[1]
        end
    end
    return r
end

local KEYS = { "pid", "tid", "comm", "fd", "uuid", "version", "real_port", "real_client_port", "connection" }

function proto.dissector(tvb, pinfo, tree)
    local stream = f_stream()
    if not stream then
        return
    end
    local key = stream.value
    local own = nil
    for _, c in ipairs({ f_comment() }) do
        local r = parse(tostring(c.value))
        if r.pid then
            own = own or r
            local info = conns[key]
            if info == nil or (r.opening and not info.opening) then
                info = {}
                for _, k in ipairs(KEYS) do
                    info[k] = r[k]
                end
                info.opening = r.opening
                conns[key] = info
            else -- fill in what the connection's first comment did not say
                for _, k in ipairs(KEYS) do
                    if info[k] == nil then
                        info[k] = r[k]
                    end
                end
            end
        end
    end
    local info = conns[key]
    if info == nil then
        return
    end
    local values = {}
    for _, k in ipairs(KEYS) do
        values[k] = info[k]
    end
    if own ~= nil then -- this packet's event: its own thread and uuid
        values.tid = own.tid or values.tid
        values.uuid = own.uuid or values.uuid
    end
    local label = "eCapture: pid " .. tostring(values.pid) .. " " .. tostring(values.comm or "")
    local t = tree:add(proto, label)
    for _, k in ipairs(KEYS) do
        if values[k] ~= nil then
            t:add(pf[k], values[k])
        end
    end
end

register_postdissector(proto)
