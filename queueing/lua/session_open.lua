-- session_open: a user signs in to the console (the password is already checked). With a
-- desk, the session is bound to it: refused while another user's session holds the desk;
-- the same user's older session there ends (signed in again, e.g. from another browser).
-- Role, agency and password stamp are copied from the user record.
-- ARGV[3..] session_id (SHA-256 of the cookie's token), name, desk ('' for none), csrf, idle_ms
-- Reply: session_id, user, role, agency, desk
return run(function()
  local session_id = arg_id(3, 'session_id')
  local name = arg_id(4, 'name')
  local desk_id = arg_text(5)
  if desk_id ~= '' then check_id(desk_id, 'desk_id') end
  local csrf = arg_text(6)
  if csrf == '' then refuse('csrf token is required') end
  local idle_ms = arg_int(7, 'idle_ms', 1000, nil)
  local user = load_hash(user_key(name))
  if not user then refuse('no user ' .. name) end

  if desk_id ~= '' then
    local bound = load_hash(desk_session_key(desk_id))
    if bound and redis.call('EXISTS', session_key(bound.session_id)) == 1 then
      if bound.user ~= name then
        refuse('desk ' .. desk_id .. ' is signed in by ' .. bound.user .. ', who must sign out first')
      end
      end_session(bound.session_id, 'signed in again')
    end
  end
  -- Sessions that expired leave their ids behind: drop them here, where they accumulate.
  for _, old in ipairs(redis.call('SMEMBERS', user_sessions_key(name))) do
    if redis.call('EXISTS', session_key(old)) == 0 then redis.call('SREM', user_sessions_key(name), old) end
  end

  if desk_id ~= '' then
    redis.call('HSET', desk_session_key(desk_id), 'user', name, 'session_id', session_id, 'since_ms', int_str(NOW))
    redis.call('PEXPIRE', desk_session_key(desk_id), idle_ms)
  end
  redis.call('HSET', session_key(session_id), 'user', name, 'role', user.role, 'agency', user.agency,
    'desk', desk_id, 'csrf', csrf, 'created_ms', int_str(NOW))
  redis.call('PEXPIRE', session_key(session_id), idle_ms)
  redis.call('SADD', user_sessions_key(name), session_id)
  emit('signed_in', 'user', name, 'role', user.role, 'agency', user.agency, 'desk_id', desk_id)
  return { 'session_id', session_id, 'user', name, 'role', user.role, 'agency', user.agency, 'desk', desk_id }
end)
