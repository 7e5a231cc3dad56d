-- call_enqueue: ivr -> queued. The score is priority * 10^13 + arrival ms (arrival at the
-- hotline, not at the queue: time spent in the menu does not cost the caller their place).
-- ARGV[3..] call_id, queue, priority (0 = highest, up to 99), choice, route_reason,
--          language (the one the caller used in the menu; empty keeps the arrival's),
--          ivr_path (JSON array of the menu's steps: key, at_ms since arrival, language; may be
--          empty), priority_reason (empty: from the route and the number's policy)
-- Reply: call_id, queue, queue_score, position (1 = next to be served in that queue)
-- A supervisor's policy for the caller's number (number:{n}:policy, number_set_policy) is
-- applied here, whoever enqueues: lower_priority adds its priority_delta (at most 99),
-- general_only puts the caller in the general queue. Nobody is ever refused; the call
-- record's policy_applied says what changed.
return run(function()
  local call_id = arg_id(3, 'call_id')
  local queue = arg_id(4, 'queue')
  -- 99 * 10^13 + ms since 1970 stays far below 2^53, where Lua numbers stop being exact.
  local priority = arg_int(5, 'priority', 0, 99)
  local choice = arg_text(6)
  local route_reason = arg_text(7)
  local language = arg_text(8)
  local ivr_path = arg_text(9)
  local priority_reason = arg_text(10)
  if #ivr_path > 4000 then refuse('ivr_path is longer than 4000 characters') end
  if ivr_path ~= '' then
    local ok, steps = pcall(cjson.decode, ivr_path)
    if not ok or type(steps) ~= 'table' then refuse('ivr_path must be a JSON array, got ' .. string.sub(ivr_path, 1, 40)) end
  end
  local PRIORITY_REASONS = { no_choice = true, chosen = true, policy = true, supervisor = true, transfer = true,
    requeued = true }
  if priority_reason ~= '' and not PRIORITY_REASONS[priority_reason] then
    refuse('priority_reason ' .. string.format('%q', priority_reason) .. ' is not one of no_choice, chosen, policy, '
      .. 'supervisor, transfer')
  end
  if priority_reason == '' then
    priority_reason = 'no_choice'
    if route_reason == 'chosen' then priority_reason = 'chosen' end
  end

  local call = load_call(call_id)
  if not call then refuse('unknown call ' .. call_id) end
  if call.state ~= 'ivr' then
    refuse('call ' .. call_id .. ' is ' .. call.state .. '; only a call in the ivr can be queued')
  end

  local policy_applied = ''
  if callable_number(call.caller) then
    local policy = redis.call('HMGET', number_key(call.caller) .. ':policy', 'policy', 'priority_delta')
    if policy[1] == 'general_only' and queue ~= GENERAL then
      queue, policy_applied = GENERAL, 'general_only'
      priority_reason = 'policy'
    elseif policy[1] == 'lower_priority' then
      priority = math.min(priority + (tonumber(policy[2]) or 1), 99)
      policy_applied = 'lower_priority'
      priority_reason = 'policy'
    end
  end

  local score = int_str(priority * 10 ^ 13 + tonumber(call.arrived_ms))
  if language ~= '' then redis.call('HSET', call_key(call_id), 'language', language) end
  redis.call('HSET', call_key(call_id), 'state', 'queued', 'queue', queue, 'choice', choice,
    'priority', int_str(priority), 'route_reason', route_reason, 'queued_ms', int_str(NOW),
    'queue_score', score, 'policy_applied', policy_applied, 'priority_reason', priority_reason,
    'ivr_path', ivr_path, 'ivr_ms', int_str(math.max(0, NOW - tonumber(call.arrived_ms))))
  redis.call('ZADD', queue_key(queue), score, call_id)
  local position = redis.call('ZRANK', queue_key(queue), call_id) + 1
  emit('call_queued', 'call_id', call_id, 'queue', queue, 'priority', int_str(priority),
    'choice', choice, 'state', 'queued', 'policy_applied', policy_applied, 'priority_reason', priority_reason)
  wake('call_queued')
  return { 'call_id', call_id, 'queue', queue, 'queue_score', score, 'position', int_str(position) }
end)
