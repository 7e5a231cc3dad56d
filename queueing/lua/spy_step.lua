-- spy_step: what the bridge learns of a spy session's leg (telephony/call_control.py), applied
-- only to the session it was started for (spy_id):
--   answered  the supervisor picked up and ChanSpy runs: answered_ms, event spy_answered
--   ended     the supervisor's leg is gone (hung up, never answered, the desk's call ended, or
--             the Originate failed): the session ends, event spy_stopped with the reason
-- ARGV[3..] desk_id, spy_id, step, reason
-- Reply: result (answered, ended, noop), spy_id, reason
return run(function()
  local desk_id = arg_id(3, 'desk_id')
  local spy_id = arg_id(4, 'spy_id')
  local step = ARGV[5]
  local reason = arg_text(6)
  if step ~= 'answered' and step ~= 'ended' then refuse('unknown spy step ' .. tostring(step)) end
  local spy = load_hash(spy_key(desk_id))
  if not spy or spy.spy_id ~= spy_id then
    return { 'result', 'noop', 'spy_id', spy_id, 'reason', 'no such spy session (ended already)' }
  end
  if step == 'ended' then
    end_spy(desk_id, spy, reason)
    return { 'result', 'ended', 'spy_id', spy_id, 'reason', reason }
  end
  if spy.answered_ms ~= '' then return { 'result', 'noop', 'spy_id', spy_id, 'reason', 'answered already' } end
  redis.call('HSET', spy_key(desk_id), 'answered_ms', int_str(NOW))
  emit('spy_answered', 'desk_id', desk_id, 'call_id', spy.call_id, 'supervisor_desk', spy.supervisor_desk,
    'mode', spy.mode, 'spy_id', spy_id, 'tell_call_taker', spy.tell_call_taker)
  return { 'result', 'answered', 'spy_id', spy_id, 'reason', '' }
end)
