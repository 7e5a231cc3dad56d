-- session_close: a user signs out of the console (or the API ends a session). Ending a
-- session that is already gone is not an error.
-- ARGV[3..] session_id, reason
-- Reply: session_id, user, desk ('' when there was no such session)
return run(function()
  local session_id = arg_id(3, 'session_id')
  local session = end_session(session_id, arg_text(4))
  if not session then return { 'session_id', session_id, 'user', '', 'desk', '' } end
  return { 'session_id', session_id, 'user', session.user, 'desk', session.desk }
end)
