-- number_set_policy: a supervisor's policy for one caller number, applied by call_enqueue.
-- Nobody is blocked: a policy only changes where and how urgently the number's calls wait.
--   none            removes the policy
--   lower_priority  the call's priority + priority_delta (at most 99)
--   general_only    always the general queue (any agency's desk), whatever the caller chose
-- ARGV[3..] number, policy, priority_delta (1-9; lower_priority only), set_by, note
-- Reply: number, policy, priority_delta, set_by, set_ms, note, previous (the policy before,
--        "none" when there was none)
local POLICIES = { none = true, lower_priority = true, general_only = true }

return run(function()
  local number = ARGV[3] or ''
  if not callable_number(number) then
    refuse('number ' .. string.format('%q', number)
      .. ' is not a caller number (an optional + and 3-20 digits)')
  end
  local policy = ARGV[4] or ''
  if not POLICIES[policy] then
    refuse('unknown policy ' .. string.format('%q', policy)
      .. '; allowed: none, lower_priority, general_only')
  end
  local delta = 0
  if policy == 'lower_priority' then delta = arg_int(5, 'priority_delta', 1, 9) end
  local set_by = arg_text(6)
  if set_by == '' then refuse('set_by is required: who sets the policy') end
  if #set_by > 80 then refuse('set_by is longer than 80 characters') end
  local note = arg_text(7)
  if #note > 500 then refuse('note is longer than 500 characters') end

  local key = number_key(number) .. ':policy'
  local previous = redis.call('HGET', key, 'policy') or 'none'
  local now = int_str(NOW)
  if policy == 'none' then
    redis.call('DEL', key)
    redis.call('ZREM', PREFIX .. 'numbers:policy', number)
  else
    redis.call('HSET', key, 'number', number, 'policy', policy, 'priority_delta', int_str(delta),
      'set_by', set_by, 'set_ms', now, 'note', note)
    redis.call('ZADD', PREFIX .. 'numbers:policy', now, number)
  end
  emit('number_policy', 'number', number, 'policy', policy, 'priority_delta', int_str(delta),
    'set_by', set_by, 'previous', previous)
  return { 'number', number, 'policy', policy, 'priority_delta', int_str(delta), 'set_by', set_by,
    'set_ms', now, 'note', note, 'previous', previous }
end)
