-- claim_next: takes the best waiting caller that has an eligible ready desk, and that desk;
-- again, up to max_claims pairs in one call (a batch is the same as that many calls in a row).
-- ARGV[3..] ring_timeout_ms, max_claims (1 to 1000), agencies (one or more): "police", or
--           "police=10000" to let police callers overflow after 10 s (see below)
-- Reply: a list of claims, empty when nothing can be dispatched; each claim is
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
-- the agency's desks is logged in (desks:logged_in:), that queue is also served by ready
-- desks of other agencies cross-trained for it (desks:ready_for:). The caller never leaves
-- its own queue, so it keeps its place there.
--
-- Picks first: a supervisor's pick (call_pick) of a caller for a desk of these agencies, oldest
-- first, is offered before any other match. A pick that cannot be served now (the caller no
-- longer waits, the desk is not ready or does not serve the caller's queue) is dropped (event
-- pick_dropped) and the caller stays where it is, to be served as any other.
--
-- Cost: only the fields used are read (HMGET), each queue head and each agency's idle desk
-- once per call; after an offer only the queue it left and the desk's agency are read again.
return run(function()
  local ring_timeout = arg_int(3, 'ring_timeout_ms', 1)
  local max_claims = arg_int(4, 'max_claims', 1, 1000)
  local agencies, seen, overflow_ms = {}, {}, {}
  for i = 5, #ARGV do
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

  -- What an offer, its event and the checks below use of a call record (28 fields) and a desk's.
  local CALL_FIELDS = { 'state', 'queue', 'arrived_ms', 'channel', 'caller', 'priority', 'choice',
    'route_reason', 'language', 'ring_attempts' }
  local function call_fields(call_id)
    local values, call = redis.call('HMGET', call_key(call_id), unpack(CALL_FIELDS)), {}
    for i, name in ipairs(CALL_FIELDS) do
      if values[i] then call[name] = values[i] end
    end
    return call
  end
  local function desk_fields(desk_id)
    local v = redis.call('HMGET', desk_key(desk_id), 'state', 'agency', 'cross_trained')
    return { state = v[1] or nil, agency = v[2] or nil, cross_trained = v[3] or '' }
  end

  -- One caller to one desk: both out of their sets, both ringing, the offer's deadline set.
  local function offer(call_id, call, queue, desk_id, desk_agency, desk_cross_trained, picked_by)
    local now, deadline = int_str(NOW), int_str(NOW + ring_timeout)
    redis.call('ZREM', queue_key(queue), call_id)
    unindex_ready_desk(desk_id, desk_agency, desk_cross_trained)
    local attempt = (tonumber(call.ring_attempts) or 0) + 1
    redis.call('HSET', call_key(call_id), 'state', 'ringing', 'desk', desk_id, 'offered_ms', now,
      'ring_attempts', int_str(attempt))
    redis.call('HSET', desk_key(desk_id), 'state', 'ringing', 'call_id', call_id, 'since_ms', now)
    redis.call('ZADD', K_OFFERS, deadline, call_id)
    -- The desk's console draws its pop from this event at once (the record's details follow).
    emit('offered', 'call_id', call_id, 'desk_id', desk_id, 'queue', queue,
      'desk_agency', desk_agency,
      'attempt', int_str(attempt), 'deadline_ms', deadline, 'state', 'ringing',
      'caller', call.caller or '', 'arrived_ms', call.arrived_ms or '', 'priority', call.priority or '',
      'choice', call.choice or '', 'route_reason', call.route_reason or '', 'language', call.language or '',
      'offered_ms', now, 'picked_by', picked_by)
    return { 'call_id', call_id, 'desk_id', desk_id, 'channel', call.channel or '', 'queue', queue,
      'caller', call.caller or '', 'deadline_ms', deadline }
  end

  -- Reads kept for the rest of the call (false: read, nothing there); an offer forgets what it changed.
  local idle_of, head_of, cross_for, logged_in = {}, {}, {}, {}
  local function forget(queue, desk_id, desk_agency)
    head_of[queue] = nil
    idle_of[desk_agency] = nil
    for q, desk in pairs(cross_for) do
      if desk and desk.id == desk_id then cross_for[q] = nil end
    end
  end

  -- Picks, until a pass through them offers nothing: the ones left are other bridges' (their
  -- desks' agencies are not ours), and no offer of ours changes that.
  local picks_open = true
  local function next_pick()
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
          forget(call.queue, desk_id, desk.agency)
          return offer(call_id, call, call.queue, desk_id, desk.agency, desk.cross_trained or '',
            call.picked_by or '')
        end
        emit('pick_dropped', 'call_id', call_id, 'desk_id', desk_id, 'reason', problem)
      end
    end
    picks_open = false
    return nil
  end

  -- The longest-idle ready desk of an agency. An entry whose desk is not really ready (a
  -- record edited or deleted by hand) is dropped rather than rung.
  local function idle_desk(agency)
    while true do
      local top = redis.call('ZRANGE', ready_key(agency), 0, 0, 'WITHSCORES')
      if #top == 0 then return false end
      local desk_id = top[1]
      local desk = desk_fields(desk_id)
      if desk.state == 'ready' and desk.agency == agency then
        return { id = desk_id, since = tonumber(top[2]), agency = agency, cross_trained = desk.cross_trained }
      end
      redis.call('ZREM', ready_key(agency), desk_id)
      emit('ready_entry_dropped', 'desk_id', desk_id, 'agency', agency, 'state', desk.state or 'missing')
    end
  end

  -- The head of a queue. A head that is not a queued call of this queue would block
  -- everyone behind it forever, so it is dropped.
  local function queue_head(queue)
    if head_of[queue] ~= nil then return head_of[queue] or nil end
    while true do
      local top = redis.call('ZRANGE', queue_key(queue), 0, 0, 'WITHSCORES')
      if #top == 0 then
        head_of[queue] = false
        return nil
      end
      local call_id = top[1]
      local call = call_fields(call_id)
      if call.state == 'queued' and call.queue == queue then
        head_of[queue] = { id = call_id, score = tonumber(top[2]), call = call }
        return head_of[queue]
      end
      redis.call('ZREM', queue_key(queue), call_id)
      emit('queue_entry_dropped', 'call_id', call_id, 'queue', queue, 'state', call.state or 'missing')
    end
  end

  -- The longest-idle ready desk of another agency of ours that is cross-trained for `queue`.
  -- A desk of an agency we do not serve is skipped (its bridge may take it), a stale entry dropped.
  local function cross_trained_desk(queue)
    local key, at = ready_for_key(queue), 0
    while true do
      local top = redis.call('ZRANGE', key, at, at, 'WITHSCORES')
      if #top == 0 then return false end
      local desk_id = top[1]
      local desk = desk_fields(desk_id)
      if desk.state == 'ready' and desk.agency and desk.agency ~= queue
          and trained_for(desk.cross_trained, queue) then
        if seen[desk.agency] then
          return { id = desk_id, since = tonumber(top[2]), agency = desk.agency, cross_trained = desk.cross_trained }
        end
        at = at + 1
      else
        redis.call('ZREM', key, desk_id)
        emit('ready_entry_dropped', 'desk_id', desk_id, 'agency', desk.agency or '',
          'state', desk.state or 'missing', 'ready_for', queue)
      end
    end
  end

  local function idler(a, b)
    if a == nil then return b end
    if b == nil then return a end
    if b.since < a.since or (b.since == a.since and b.id < a.id) then return b end
    return a
  end

  local function overflowing(agency)
    if overflow_ms[agency] == nil then return false end
    local head = queue_head(agency)
    if head == nil then return false end
    if NOW - (tonumber(head.call.arrived_ms) or NOW) >= overflow_ms[agency] then return true end
    if logged_in[agency] == nil then logged_in[agency] = any_logged_in(agency) end
    return not logged_in[agency]
  end

  local function next_match()
    local any_idle
    for _, agency in ipairs(agencies) do
      if idle_of[agency] == nil then idle_of[agency] = idle_desk(agency) end
      any_idle = idler(any_idle, idle_of[agency] or nil)
    end
    if any_idle == nil then return nil end

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
    for _, agency in ipairs(agencies) do
      -- the agency's own desk first; a cross-trained one only when it overflows
      local desk = idle_of[agency] or nil
      if desk == nil and overflowing(agency) then
        if cross_for[agency] == nil then cross_for[agency] = cross_trained_desk(agency) end
        desk = cross_for[agency] or nil
      end
      consider(agency, desk)
    end
    if best == nil then return nil end

    forget(best.queue, best.desk.id, best.desk.agency)
    return offer(best.head.id, best.head.call, best.queue, best.desk.id, best.desk.agency,
      best.desk.cross_trained, '')
  end

  local claims = {}
  while #claims < max_claims do
    local claim = picks_open and next_pick() or nil
    if claim == nil then claim = next_match() end
    if claim == nil then break end
    claims[#claims + 1] = claim
  end
  return claims
end)
