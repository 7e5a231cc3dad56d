-- recording_expired: retention deleted a call's recording files ([recording] retention_days).
-- ARGV[3..] call_id, detail (what was deleted). The call record keeps recording = expired.
-- Reply: call_id, recording ('' when the call record itself is gone)
return run(function()
  local call_id = arg_id(3, 'call_id')
  local detail = arg_text(4)
  redis.call('ZREM', PREFIX .. 'recordings', call_id)
  local call = load_call(call_id)
  if not call then
    emit('recording_expired', 'call_id', call_id, 'queue', '', 'desk_id', '', 'detail', detail)
    return { 'call_id', call_id, 'recording', '' }
  end
  redis.call('HSET', call_key(call_id), 'recording', 'expired', 'recording_expired_ms', int_str(NOW),
    'recording_detail', detail)
  emit('recording_expired', 'call_id', call_id, 'queue', call.queue or '', 'desk_id', call.desk or '',
    'detail', detail)
  return { 'call_id', call_id, 'recording', 'expired' }
end)
