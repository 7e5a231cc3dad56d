-- call_reprioritize: a supervisor changes a caller's priority (0 is the highest). The
-- caller keeps its arrival time, so among callers of the new priority it stands where its
-- arrival puts it. A queued caller moves at once; a ringing one keeps ringing and, if the
-- desk does not answer, returns at the new place.
-- ARGV[3..] call_id, priority, set_by (who, for the audit trail), note (why, shown with the call)
-- Reply: call_id, state, queue, priority, previous_priority, position ("0" when not queued)
return run(function()
  local call_id = arg_id(3, 'call_id')
  local priority = arg_int(4, 'priority', 0, 99)
  local set_by = arg_text(5)
  local note = arg_text(6)
  if #note > 200 then refuse('note is longer than 200 characters') end
  local call = load_call(call_id)
  if not call then refuse('unknown call ' .. call_id) end
  if call.state ~= 'queued' and call.state ~= 'ringing' then
    refuse('call ' .. call_id .. ' is ' .. call.state .. '; only a waiting caller has a priority to change')
  end
  local previous = call.priority
  local score = priority * 1e13 + tonumber(call.arrived_ms)
  redis.call('HSET', call_key(call_id), 'priority', int_str(priority), 'queue_score', int_str(score),
    'priority_reason', 'supervisor', 'priority_set_by', set_by, 'priority_note', note)
  local position = 0
  if call.state == 'queued' then
    redis.call('ZADD', queue_key(call.queue), int_str(score), call_id)
    position = redis.call('ZRANK', queue_key(call.queue), call_id) + 1
    wake('call_reprioritized')
  end
  emit('call_reprioritized', 'call_id', call_id, 'queue', call.queue, 'priority', int_str(priority),
    'previous_priority', previous or '', 'set_by', set_by, 'note', note, 'priority_reason', 'supervisor',
    'state', call.state)
  return { 'call_id', call_id, 'state', call.state, 'queue', call.queue, 'priority', int_str(priority),
    'previous_priority', previous or '', 'position', int_str(position) }
end)
