-- recording_checked: the result of checking a call's recording after the call (queueing/recordings.py:
-- both directions present and not silent). ARGV[3..] call_id, verdict (ok / broken / missing),
-- detail (why, for people). An expired recording is not checked again.
-- A recording that is not ok also raises recording_broken: supervisors are alerted.
-- Reply: call_id, recording, recording_detail
local VERDICTS = { ok = true, broken = true, missing = true }
return run(function()
  local call_id = arg_id(3, 'call_id')
  local verdict = arg_text(4)
  local detail = arg_text(5)
  if not VERDICTS[verdict] then
    refuse('a recording check gives ok, broken or missing, got ' .. string.format('%q', verdict))
  end
  if #detail > 500 then detail = string.sub(detail, 1, 500) end
  local call = load_call(call_id)
  if not call then refuse('unknown call ' .. call_id) end
  if call.recording == 'expired' then
    refuse('the recording of call ' .. call_id .. ' has expired')
  end

  redis.call('HSET', call_key(call_id), 'recording', verdict, 'recording_checked_ms', int_str(NOW),
    'recording_detail', detail)
  local queue, desk = call.queue or '', call.desk or ''
  emit('recording_checked', 'call_id', call_id, 'queue', queue, 'desk_id', desk, 'status', verdict,
    'detail', detail)
  if verdict ~= 'ok' then
    emit('recording_broken', 'call_id', call_id, 'queue', queue, 'desk_id', desk, 'status', verdict,
      'detail', detail)
  end
  return { 'call_id', call_id, 'recording', verdict, 'recording_detail', detail }
end)
