-- callback_claim: books a desk to call a citizen back (rq job dial_callback, auto_dial on).
-- ARGV[3..] call_id (the task's), agency ids (one or more: whose desks may call back a
--           general task; an agency task only uses its own agency's desks)
-- Reply: result, call_id, status (the task's, after), desk_id, number, attempts
--   result  claimed          the longest-idle eligible ready desk is now paused with reason
--                            "callback <call_id>" and the task is dialing
--           not_open         the task is final (or already dialing): nothing to do
--           not_due          next_attempt_ms is later
--           closed           the citizen got through since: the task is now not_needed
--           callers_waiting  a caller waits for these desks: incoming emergencies first
--           no_desk          no eligible desk is ready
-- Callers always come first: a callback only takes a desk no waiting caller could have.
return run(function()
  local call_id = arg_id(3, 'call_id')
  local agencies = {}
  for i = 4, #ARGV do
    local agency = arg_id(i, 'agency')
    if agency == GENERAL then refuse('"' .. GENERAL .. '" is a queue, not an agency') end
    agencies[#agencies + 1] = agency
  end
  if #agencies == 0 then refuse('callback_claim needs at least one agency') end
  local task = load_hash(callback_key(call_id))
  if not task then refuse('unknown callback ' .. call_id) end

  local function answer(result, desk_id)
    return { 'result', result, 'call_id', call_id, 'status', task.status, 'desk_id', desk_id or '',
      'number', task.number, 'attempts', task.attempts }
  end

  if task.status ~= 'pending' and task.status ~= 'retry_at' then return answer('not_open') end
  if tonumber(task.next_attempt_ms) and tonumber(task.next_attempt_ms) > NOW then
    return answer('not_due')
  end
  local answered = answered_since(task)
  if answered then
    close_callback(task, 'not_needed', 'called again and was answered (call ' .. answered .. ')')
    task.status = 'not_needed'
    return answer('closed')
  end

  local eligible = agencies
  if task.queue ~= GENERAL then eligible = { task.queue } end
  if redis.call('ZCARD', queue_key(GENERAL)) > 0 then return answer('callers_waiting') end
  for _, agency in ipairs(eligible) do
    if redis.call('ZCARD', queue_key(agency)) > 0 then return answer('callers_waiting') end
  end

  -- The longest-idle ready desk among the eligible agencies (stale entries are dropped, as
  -- claim_next does).
  local best_id, best_since, best_agency
  for _, agency in ipairs(eligible) do
    while true do
      local top = redis.call('ZRANGE', ready_key(agency), 0, 0, 'WITHSCORES')
      if #top == 0 then break end
      local desk = load_desk(top[1])
      if desk and desk.state == 'ready' and desk.agency == agency then
        local since = tonumber(top[2])
        if best_id == nil or since < best_since or (since == best_since and top[1] < best_id) then
          best_id, best_since, best_agency = top[1], since, agency
        end
        break
      end
      redis.call('ZREM', ready_key(agency), top[1])
      emit('ready_entry_dropped', 'desk_id', top[1], 'agency', agency,
        'state', desk and desk.state or 'missing')
    end
  end
  if best_id == nil then return answer('no_desk') end

  local now = int_str(NOW)
  unindex_ready_desk(best_id, best_agency, nil)
  redis.call('HSET', desk_key(best_id), 'state', 'paused', 'call_id', '', 'since_ms', now,
    'reason', 'callback ' .. call_id)
  redis.call('HSET', callback_key(call_id), 'status', 'dialing', 'desk', best_id,
    'dialing_ms', now, 'updated_ms', now)
  -- The first attempt's start (docs/kpis.md: abandon to first callback attempt); dialing_ms is each one's.
  if (task.first_attempt_ms or '') == '' then
    redis.call('HSET', callback_key(call_id), 'first_attempt_ms', now)
  end
  task.status = 'dialing'
  emit('desk_state', 'desk_id', best_id, 'agency', best_agency, 'state', 'paused',
    'previous', 'ready', 'reason', 'callback ' .. call_id)
  emit('callback_dialing', 'call_id', call_id, 'number', task.number, 'queue', task.queue,
    'desk_id', best_id, 'attempt', int_str((tonumber(task.attempts) or 0) + 1), 'status', 'dialing')
  return answer('claimed', best_id)
end)
