-- One sync of a process with its fleet, in one round trip (redial, src/fleet/exchange.rs).
--
-- KEYS[1]     the gate: the latest reset learned by the fleet, in ms since the Unix epoch
-- KEYS[2..]   the counter buckets of the window, oldest first, the current one last
--             (hashes: field i holds counter i); absent when only the gate is shared
-- ARGV[1]     this process's latest reset (0: none)
-- ARGV[2]     now, in ms since the Unix epoch
-- ARGV[3]     how long a bucket lives, in ms
-- ARGV[4..]   this process's counts since its last sync, one per counter
--
-- Returns { the fleet's reset, then each counter's total over the window }.
-- Every key expires, so a fleet that goes away leaves nothing behind, and a flushed
-- Redis is refilled by the next sync of each process.

local reset = tonumber(ARGV[1]) or 0
local now = tonumber(ARGV[2]) or 0
local fleet = tonumber(redis.call('GET', KEYS[1])) or 0
if reset > fleet and reset > now then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', reset - now + 60000)
  fleet = reset
end

local n = #ARGV - 3
local out = { fleet }
if #KEYS > 1 then
  local current = KEYS[#KEYS]
  for i = 1, n do
    local d = tonumber(ARGV[3 + i]) or 0
    if d > 0 then
      redis.call('HINCRBY', current, i, d)
    end
  end
  redis.call('PEXPIRE', current, ARGV[3])
  for i = 1, n do
    out[i + 1] = 0
  end
  for k = 2, #KEYS do
    local fields = redis.call('HGETALL', KEYS[k])
    for j = 1, #fields, 2 do
      local i = tonumber(fields[j])
      if i and i >= 1 and i <= n then
        out[i + 1] = out[i + 1] + (tonumber(fields[j + 1]) or 0)
      end
    end
  end
end
return out
