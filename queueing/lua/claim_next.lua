-- claim_next: takes the best waiting caller that has an eligible ready desk, and that desk.
-- ARGV[3..] ring_timeout_ms, agencies (one or more): "police", or "police=10000" to let
--           police callers overflow after 10 s (see below)
-- Reply: nil when nothing can be dispatched, else
--        call_id, desk_id, channel, queue, caller, deadline_ms
--
-- Queues are each agency's queue plus general. An agency queue is served by that agency's
-- ready desks only; general by every agency's. All callers of one queue share the same
-- eligible desks, so only queue heads compete: the lowest score (priority, then arrival)
-- among heads that have a ready desk wins, and gets the desk that has been idle longest.
-- Redis runs the whole script atomically, so concurrent bridges can never hand one caller
-- to two desks or one desk two callers.
--
-- Overflow: once an agency's head caller has waited overflow_ms since arrival, or none of
-- the agency's desks is logged in, that queue is also served by ready desks of other
-- agencies cross-trained for it. The caller never leaves its own queue, so it keeps its
-- place there.
--
-- Picks first: a supervisor's pick (call_pick) of a caller for a desk of these agencies, oldest
-- first, is offered before any other match. A pick that cannot be served now (the caller no
-- longer waits, the desk is not ready or does not serve the caller's queue) is dropped (event
-- pick_dropped) and the caller stays where it is, to be served as any other.
return run(function()
  local ring_timeout = arg_int(3, 'ring_timeout_ms', 1)
  local agencies, seen, overflow_ms = {}, {}, {}
  for i = 4, #ARGV do
    local name, after = string.match(ARGV[i], '^([^=]+)=(.*)$')
    local agency = check_id(name or ARGV[i], 'agency')
    if after then
      overflow_ms[agency] = tonumber(after)
      if overflow_ms[agency] == nil or overflow_ms[agency] < 0 then
        refuse('overflow for ' .. agency .. ' must be a number of ms, got ' .. after)
      end
    end
    if agency == GENERAL then refuse('"' .. GENERAL .. '" is a queue, not an agency') end
    if not seen[agency] then
      seen[agency] = true
      agencies[#agencies + 1] = agency
    end
  end
  if #agencies == 0 then refuse('claim_next needs at least one agency') end

  -- One caller to one desk: both out of their sets, both ringing, the offer's deadline set.
  local function offer(call_id, call, queue, desk_id, desk_agency, picked_by)
    local now, deadline = int_str(NOW), int_str(NOW + ring_timeout)
    redis.call('ZREM', queue_key(queue), call_id)
    redis.call('ZREM', ready_key(desk_agency), desk_id)
    redis.call('HSET', call_key(call_id), 'state', 'ringing', 'desk', desk_id, 'offered_ms', now)
    local attempt = redis.call('HINCRBY', call_key(call_id), 'ring_attempts', 1)
    redis.call('HSET', desk_key(desk_id), 'state', 'ringing', 'call_id', call_id, 'since_ms', now)
    redis.call('ZADD', K_OFFERS, deadline, call_id)
    -- The desk's console draws its pop from this event at once (the record's details follow).
    emit('offered', 'call_id', call_id, 'desk_id', desk_id, 'queue', queue,
      'desk_agency', desk_agency,
      'attempt', int_str(attempt), 'deadline_ms', deadline, 'state', 'ringing',
      'caller', call.caller or '', 'arrived_ms', call.arrived_ms or '', 'priority', call.priority or '',
      'choice', call.choice or '', 'route_reason', call.route_reason or '', 'language', call.language or '',
      'offered_ms', now, 'picked_by', picked_by)
    return { 'call_id', call_id, 'desk_id', desk_id, 'channel', call.channel, 'queue', queue,
      'caller', call.caller, 'deadline_ms', deadline }
  end

  for _, call_id in ipairs(redis.call('ZRANGE', picks_key(), 0, -1)) do
    local call = load_call(call_id)
    local desk_id = call and call.picked_desk or ''
    local desk = desk_id ~= '' and load_desk(desk_id) or nil
    -- a ready desk of an agency this bridge does not serve: the bridge that serves it serves the pick
    if not (desk and desk.state == 'ready' and not seen[desk.agency]) then
      local problem = desk_id == '' and 'no pick on the call' or pick_problem(call_id, call, desk_id, desk)
      if problem == nil and not redis.call('ZSCORE', queue_key(call.queue), call_id) then
        problem = 'call ' .. call_id .. ' is not in queue ' .. call.queue
      end
      end_pick(call_id, desk_id)
      if problem == nil then
        return offer(call_id, call, call.queue, desk_id, desk.agency, call.picked_by or '')
      end
      emit('pick_dropped', 'call_id', call_id, 'desk_id', desk_id, 'reason', problem)
    end
  end

  -- The longest-idle ready desk of an agency. An entry whose desk is not really ready (a
  -- record edited or deleted by hand) is dropped rather than rung.
  local function idle_desk(agency)
    while true do
      local top = redis.call('ZRANGE', ready_key(agency), 0, 0, 'WITHSCORES')
      if #top == 0 then return nil end
      local desk_id = top[1]
      local desk = load_desk(desk_id)
      if desk and desk.state == 'ready' and desk.agency == agency then
        return { id = desk_id, since = tonumber(top[2]) }
      end
      redis.call('ZREM', ready_key(agency), desk_id)
      emit('ready_entry_dropped', 'desk_id', desk_id, 'agency', agency,
        'state', desk and desk.state or 'missing')
    end
  end

  -- The head of a queue. A head that is not a queued call of this queue would block
  -- everyone behind it forever, so it is dropped.
  local function queue_head(queue)
    while true do
      local top = redis.call('ZRANGE', queue_key(queue), 0, 0, 'WITHSCORES')
      if #top == 0 then return nil end
      local call_id = top[1]
      local call = load_call(call_id)
      if call and call.state == 'queued' and call.queue == queue then
        return { id = call_id, score = tonumber(top[2]), call = call }
      end
      redis.call('ZREM', queue_key(queue), call_id)
      emit('queue_entry_dropped', 'call_id', call_id, 'queue', queue,
        'state', call and call.state or 'missing')
    end
  end

  local function idler(a, b)
    if a == nil then return b end
    if b == nil then return a end
    if b.since < a.since or (b.since == a.since and b.id < a.id) then return b end
    return a
  end

  local idle_by_agency, any_idle = {}, nil
  for _, agency in ipairs(agencies) do
    local desk = idle_desk(agency)
    if desk then desk.agency = agency end
    idle_by_agency[agency] = desk
    any_idle = idler(any_idle, desk)
  end
  if any_idle == nil then return false end

  -- The longest-idle ready desk of another agency that is cross-trained for `queue`.
  local function cross_trained_desk(queue)
    local found
    for _, agency in ipairs(agencies) do
      if agency ~= queue then
        local ready = redis.call('ZRANGE', ready_key(agency), 0, -1, 'WITHSCORES')
        for i = 1, #ready, 2 do
          local desk = load_desk(ready[i])
          if desk and desk.state == 'ready'
              and string.find(',' .. (desk.cross_trained or '') .. ',', ',' .. queue .. ',', 1, true) then
            -- ordered by idle time: the first trained one is this agency's best
            found = idler(found, { id = ready[i], since = tonumber(ready[i + 1]), agency = agency })
            break
          end
        end
      end
    end
    return found
  end

  local function any_logged_in(agency)
    for _, desk_id in ipairs(redis.call('SMEMBERS', desks_of_key(agency))) do
      local desk = load_desk(desk_id)
      if desk and desk.agency == agency and desk.state ~= 'offline' then return true end
    end
    return false
  end

  local function overflowing(agency)
    if overflow_ms[agency] == nil then return false end
    local head = queue_head(agency)
    if head == nil then return false end
    local waited = NOW - (tonumber(head.call.arrived_ms) or NOW)
    return waited >= overflow_ms[agency] or not any_logged_in(agency)
  end

  local eligible = {}
  for _, agency in ipairs(agencies) do
    -- the agency's own desk first; a cross-trained one only when it overflows
    eligible[agency] = idle_by_agency[agency]
    if eligible[agency] == nil and overflowing(agency) then
      eligible[agency] = cross_trained_desk(agency)
    end
  end

  local best
  local function consider(queue, desk)
    if desk == nil then return end
    local head = queue_head(queue)
    if head and (best == nil or head.score < best.head.score) then
      best = { queue = queue, head = head, desk = desk }
    end
  end
  -- general first: on an exact tie it wins (it is the no-input, top-priority route).
  consider(GENERAL, any_idle)
  for _, agency in ipairs(agencies) do consider(agency, eligible[agency]) end
  if best == nil then return false end

  return offer(best.head.id, best.head.call, best.queue, best.desk.id, best.desk.agency, '')
end)
