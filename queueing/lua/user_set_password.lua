-- user_set_password: a user's new password hash; every session of the user ends (whoever
-- knew the old password is signed out).
-- ARGV[3..] name, password (the argon2 hash)
-- Reply: name, sessions_ended
return run(function()
  local name = arg_id(3, 'name')
  local password = arg_text(4)
  if password == '' then refuse('password hash is required') end
  if redis.call('EXISTS', user_key(name)) == 0 then refuse('no user ' .. name) end
  local ended = redis.call('SCARD', user_sessions_key(name))
  end_sessions_of(name, 'password changed')
  redis.call('HSET', user_key(name), 'password', password, 'password_ms', int_str(NOW))
  emit('user_password_changed', 'user', name)
  return { 'name', name, 'sessions_ended', int_str(ended) }
end)
