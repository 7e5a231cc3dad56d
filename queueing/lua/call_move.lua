-- call_move: a supervisor moves a waiting caller to another queue. The caller keeps its
-- priority and its arrival time (the same score), so in the new queue it stands by arrival
-- among the callers of its priority. Only a queued caller moves: a ringing one is refused (the
-- desk may answer at any moment; move it if the offer ends and it waits again), so a caller is
-- never in two queues nor in none. A pick of the caller for a desk (call_pick) ends with the move.
-- ARGV[3..] call_id, queue (the target: an agency's or general; the API checks the city has it),
--           moved_by (who, for the audit trail), note (why)
-- Reply: call_id, queue, previous_queue, priority, position (1 = next in the new queue)
return run(function()
  local call_id = arg_id(3, 'call_id')
  local queue = arg_id(4, 'queue')
  local moved_by = arg_text(5)
  local note = arg_text(6)
  if #note > 200 then refuse('note is longer than 200 characters') end
  local call = load_call(call_id)
  if not call then refuse('unknown call ' .. call_id) end
  if call.state == 'ringing' then
    refuse('call ' .. call_id .. ' is ringing at desk ' .. (call.desk or '') .. '; move it if that desk does not answer')
  end
  if call.state ~= 'queued' then
    refuse('call ' .. call_id .. ' is ' .. call.state .. '; only a waiting caller can be moved')
  end
  if call.queue == queue then refuse('call ' .. call_id .. ' already waits in ' .. queue) end
  local score = redis.call('ZSCORE', queue_key(call.queue), call_id)
  if not score then
    refuse('call ' .. call_id .. ' is not in queue ' .. call.queue .. ' (being dispatched); try again')
  end

  redis.call('ZREM', queue_key(call.queue), call_id)
  redis.call('ZADD', queue_key(queue), score, call_id)
  redis.call('HSET', call_key(call_id), 'queue', queue, 'moved_from', call.queue, 'moved_by', moved_by,
    'moved_ms', int_str(NOW), 'moved_note', note)
  if call.picked_desk and call.picked_desk ~= '' then
    end_pick(call_id, call.picked_desk)
    emit('pick_dropped', 'call_id', call_id, 'desk_id', call.picked_desk, 'reason', 'moved')
  end
  local position = redis.call('ZRANK', queue_key(queue), call_id) + 1
  emit('call_moved', 'call_id', call_id, 'queue', queue, 'previous_queue', call.queue, 'priority', call.priority or '',
    'moved_by', moved_by, 'note', note, 'state', 'queued')
  wake('call_moved')
  return { 'call_id', call_id, 'queue', queue, 'previous_queue', call.queue, 'priority', call.priority or '',
    'position', int_str(position) }
end)
