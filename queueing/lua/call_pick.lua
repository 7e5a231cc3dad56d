-- call_pick: a supervisor picks a waiting caller for a named desk. Nothing rings here: the pick
-- is written down (the call's picked_desk, the desk's picked_call, the picks zset) and the
-- dispatchers woken; claim_next serves picks before anything else, so a bridge delivers the
-- caller to that desk the normal way (one offer, one Redirect, the usual no-answer path).
-- Refused unless the caller is queued and the desk is ready and serves the caller's queue (its
-- agency's, general, or one it is cross-trained for), and no other pick holds the desk. A pick
-- claim_next can no longer serve (the caller left, the desk paused) is dropped: the caller keeps
-- its place in its queue and is served as any other.
-- ARGV[3..] call_id, desk_id, picked_by (who, for the audit trail), note (why)
-- Reply: call_id, desk_id, queue, picked_by
return run(function()
  local call_id = arg_id(3, 'call_id')
  local desk_id = arg_id(4, 'desk_id')
  local picked_by = arg_text(5)
  local note = arg_text(6)
  if #note > 200 then refuse('note is longer than 200 characters') end
  local call = load_call(call_id)
  local desk = load_desk(desk_id)
  local problem = pick_problem(call_id, call, desk_id, desk)
  if problem then refuse(problem) end
  local held_for = desk.picked_call or ''
  if held_for ~= '' and held_for ~= call_id and redis.call('ZSCORE', picks_key(), held_for) then
    refuse('desk ' .. desk_id .. ' is already picked for call ' .. held_for)
  end
  if call.picked_desk and call.picked_desk ~= '' and call.picked_desk ~= desk_id then
    end_pick(call_id, call.picked_desk)  -- picked again, for another desk: the last pick counts
  end

  redis.call('ZADD', picks_key(), int_str(NOW), call_id)
  redis.call('HSET', call_key(call_id), 'picked_desk', desk_id, 'picked_by', picked_by, 'picked_ms', int_str(NOW),
    'picked_note', note)
  redis.call('HSET', desk_key(desk_id), 'picked_call', call_id)
  emit('call_picked', 'call_id', call_id, 'desk_id', desk_id, 'queue', call.queue, 'picked_by', picked_by,
    'note', note, 'state', 'queued')
  wake('call_picked')
  return { 'call_id', call_id, 'desk_id', desk_id, 'queue', call.queue, 'picked_by', picked_by }
end)
