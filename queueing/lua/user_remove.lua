-- user_remove: a console user is removed; their sessions end with them.
-- ARGV[3..] name
-- Reply: name, sessions_ended
return run(function()
  local name = arg_id(3, 'name')
  if redis.call('EXISTS', user_key(name)) == 0 then refuse('no user ' .. name) end
  local ended = redis.call('SCARD', user_sessions_key(name))
  end_sessions_of(name, 'user removed')
  redis.call('DEL', user_key(name))
  redis.call('SREM', PREFIX .. 'users', name)
  emit('user_removed', 'user', name)
  return { 'name', name, 'sessions_ended', int_str(ended) }
end)
