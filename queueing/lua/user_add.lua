-- user_add: a console user (hotline user add). The caller has validated role, agency and desk
-- against the city file and hashed the password; a name is never taken twice.
-- ARGV[3..] name, role, agency, desk, password (the argon2 hash)
-- Reply: name, role, agency, desk
return run(function()
  local name = arg_id(3, 'name')
  local role, agency, desk = arg_text(4), arg_text(5), arg_text(6)
  local password = arg_text(7)
  if role == '' then refuse('role is required') end
  if password == '' then refuse('password hash is required') end
  if redis.call('EXISTS', user_key(name)) == 1 then
    refuse('user ' .. name .. ' exists (hotline user passwd changes a password)')
  end
  redis.call('HSET', user_key(name), 'name', name, 'role', role, 'agency', agency, 'desk', desk,
    'password', password, 'created_ms', int_str(NOW), 'password_ms', int_str(NOW))
  redis.call('SADD', PREFIX .. 'users', name)
  emit('user_added', 'user', name, 'role', role, 'agency', agency, 'desk_id', desk)
  return { 'name', name, 'role', role, 'agency', agency, 'desk', desk }
end)
