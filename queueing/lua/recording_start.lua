-- recording_start: Asterisk (MixMonitor on the caller's channel) records the call from the desk's
-- answer. ARGV[3..] call_id, file (the mix's name in [recording] dir; the call id only, checked
-- by the bridge). The call is listed on recordings for retention.
-- Reply: call_id, recording, recording_file
return run(function()
  local call_id = arg_id(3, 'call_id')
  local file = arg_text(4)
  if not string.match(file, '^[%w][%w%._%-]*$') or #file > 160 then
    refuse('recording file ' .. string.format('%q', file) .. ' is not a plain file name')
  end
  local call = load_call(call_id)
  if not call then refuse('unknown call ' .. call_id) end

  local now = int_str(NOW)
  redis.call('HSET', call_key(call_id), 'recording', 'recording', 'recording_file', file,
    'recording_started_ms', now, 'recording_checked_ms', '', 'recording_detail', '')
  redis.call('ZADD', PREFIX .. 'recordings', now, call_id)
  emit('recording_started', 'call_id', call_id, 'queue', call.queue or '', 'desk_id', call.desk or '',
    'recording', 'recording', 'file', file)
  return { 'call_id', call_id, 'recording', 'recording', 'recording_file', file }
end)
