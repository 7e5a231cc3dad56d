-- spy_mode: the supervisor switches a spy session between listen, whisper and barge while it
-- goes on (the bridge makes ChanSpy switch: PlayDTMF 4/5/6 received on the supervisor's leg).
-- Refused when no supervisor listens to the desk; the same mode again changes nothing.
-- ARGV[3..] desk_id, mode, by
-- Reply: the session and command (the stream id; '' when the mode did not change)
return run(function()
  local desk_id = arg_id(3, 'desk_id')
  local mode = ARGV[4]
  local by = arg_text(5)
  if not SPY_MODES[mode] then refuse('unknown spy mode ' .. tostring(mode)) end
  local spy = load_hash(spy_key(desk_id))
  if not spy then refuse('no supervisor is listening to desk ' .. desk_id) end
  local id = ''
  if spy.mode ~= mode then
    redis.call('HSET', spy_key(desk_id), 'mode', mode)
    local call = load_call(spy.call_id) or {}
    id = add_call_command('spy_mode', spy.call_id, call.channel or '', desk_id, 'supervisor_desk',
      spy.supervisor_desk, 'mode', mode, 'spy_id', spy.spy_id)
    emit('spy_mode', 'desk_id', desk_id, 'call_id', spy.call_id, 'supervisor_desk', spy.supervisor_desk,
      'mode', mode, 'previous_mode', spy.mode, 'by', by, 'spy_id', spy.spy_id, 'tell_call_taker', spy.tell_call_taker)
  end
  return { 'spy_id', spy.spy_id, 'desk_id', desk_id, 'call_id', spy.call_id, 'supervisor_desk', spy.supervisor_desk,
    'mode', mode, 'started_ms', spy.started_ms, 'answered_ms', spy.answered_ms, 'tell_call_taker',
    spy.tell_call_taker, 'command', id }
end)
