-- spy_stop: the supervisor ends a spy session: the session goes and the bridge hangs up the
-- supervisor's leg (never the desk's call). Refused when no supervisor listens to the desk.
-- ARGV[3..] desk_id, by
-- Reply: the session that ended and command (the stream id)
return run(function()
  local desk_id = arg_id(3, 'desk_id')
  local by = arg_text(4)
  local spy = load_hash(spy_key(desk_id))
  if not spy then refuse('no supervisor is listening to desk ' .. desk_id) end
  end_spy(desk_id, spy, 'stopped by ' .. by)
  local call = load_call(spy.call_id) or {}
  local id = add_call_command('spy_stop', spy.call_id, call.channel or '', desk_id, 'supervisor_desk',
    spy.supervisor_desk, 'mode', spy.mode, 'spy_id', spy.spy_id)
  return { 'spy_id', spy.spy_id, 'desk_id', desk_id, 'call_id', spy.call_id, 'supervisor_desk', spy.supervisor_desk,
    'mode', spy.mode, 'started_ms', spy.started_ms, 'answered_ms', spy.answered_ms, 'tell_call_taker',
    spy.tell_call_taker, 'command', id }
end)
