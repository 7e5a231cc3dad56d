-- call_rejoin: a caller held by Asterisk's fallback queue (the bridge or Redis was down)
-- comes back into hotline routing at its original place: fallback -> queued. A caller who
-- chose an agency returns to that queue with the score it had; one who never reached the
-- menu's end goes to the queue and priority given (the general queue, top priority), ranked
-- by its arrival time.
-- ARGV[3..] call_id, queue (when the call has none), priority (when the call has none)
-- Reply: call_id, state, queue, position
return run(function()
  local call_id = arg_id(3, 'call_id')
  local default_queue = arg_id(4, 'queue')
  local default_priority = arg_int(5, 'priority', 0, 99)

  local call = load_call(call_id)
  if not call then refuse('unknown call ' .. call_id) end
  if call.state ~= 'fallback' then
    refuse('call ' .. call_id .. ' is ' .. call.state .. '; only a fallback call can rejoin')
  end
  local queue = (call.queue ~= nil and call.queue ~= '') and call.queue or default_queue
  local priority = tonumber(call.priority) or default_priority
  local score = tonumber(call.queue_score)
  if score == nil then
    score = priority * 1e13 + (tonumber(call.arrived_ms) or NOW)
  end
  local queued_ms = (call.queued_ms ~= nil and call.queued_ms ~= '') and call.queued_ms or int_str(NOW)
  redis.call('HSET', call_key(call_id), 'state', 'queued', 'queue', queue,
    'priority', int_str(priority), 'queue_score', int_str(score), 'queued_ms', queued_ms,
    'route_reason', (call.route_reason ~= nil and call.route_reason ~= '') and call.route_reason or 'rejoined')
  redis.call('ZADD', queue_key(queue), int_str(score), call_id)
  local position = redis.call('ZRANK', queue_key(queue), call_id) + 1
  emit('call_rejoined', 'call_id', call_id, 'queue', queue, 'position', int_str(position),
    'state', 'queued', 'previous', 'fallback')
  wake('call_queued')
  return { 'call_id', call_id, 'state', 'queued', 'queue', queue, 'position', int_str(position) }
end)
