-- One sync of a process with its fleet, in one round trip (redial, src/fleet/exchange.rs).
--
-- KEYS[1]     the gate (a hash): r, the latest reset learned by the fleet, in ms since
--             the Unix epoch, and p, the ramp after it, in ms
-- KEYS[2..]   the counter buckets of the window, oldest first, the current one last
--             (hashes: field i holds counter i); absent when only the gate is shared
-- ARGV[1]     this process's latest reset (0: none)
-- ARGV[2]     its ramp
-- ARGV[3]     now, in ms since the Unix epoch
-- ARGV[4]     how long a bucket lives, in ms
-- ARGV[5..]   this process's counts since its last sync, one per counter
--
-- Returns { the fleet's reset, its ramp, then each counter's total over the window, then
-- each counter's value in the current bucket alone }.
-- Every key expires, so a fleet that goes away leaves nothing behind, and a flushed
-- Redis is refilled by the next sync of each process.

local reset = tonumber(ARGV[1]) or 0
local ramp = tonumber(ARGV[2]) or 0
local now = tonumber(ARGV[3]) or 0
local gate = redis.call('HMGET', KEYS[1], 'r', 'p')
local fleet = tonumber(gate[1]) or 0
local fleet_ramp = tonumber(gate[2]) or 0
if reset > now and (reset > fleet or (reset == fleet and ramp > fleet_ramp)) then
  redis.call('HSET', KEYS[1], 'r', ARGV[1], 'p', ARGV[2])
  redis.call('PEXPIRE', KEYS[1], reset + ramp - now + 60000)
  fleet, fleet_ramp = reset, ramp
end

local n = #ARGV - 4
local out = { fleet, fleet_ramp }
if #KEYS > 1 then
  local current = KEYS[#KEYS]
  for i = 1, n do
    local d = tonumber(ARGV[4 + i]) or 0
    if d > 0 then
      redis.call('HINCRBY', current, i, d)
    end
  end
  redis.call('PEXPIRE', current, ARGV[4])
  for i = 1, 2 * n do
    out[i + 2] = 0
  end
  for k = 2, #KEYS do
    local fields = redis.call('HGETALL', KEYS[k])
    for j = 1, #fields, 2 do
      local i = tonumber(fields[j])
      if i and i >= 1 and i <= n then
        local v = tonumber(fields[j + 1]) or 0
        out[i + 2] = out[i + 2] + v
        if k == #KEYS then
          out[n + i + 2] = v
        end
      end
    end
  end
end
return out
