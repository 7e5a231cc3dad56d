-- Shared prelude: queueing/scripts.py prepends this file to every script in this folder
-- (files starting with "_" are not scripts themselves). Line numbers in Redis error
-- messages therefore count from the top of this prelude.
--
-- Calling convention, the same for every script:
--   KEYS   the fixed keys, always in this order (queueing.keys.Keys.fixed()):
--          calls, calls:active, desks, offers, wrapups, events
--   ARGV   [1] key prefix ("hotline:"), [2] now in ms (the caller's clock, so tests can
--          fix time), [3..] the script's own arguments.
-- Per-call, per-desk, per-queue and per-agency keys are built below from the prefix. That
-- is sound on the single Redis instance / Sentinel-managed primary hotline runs on; it
-- would not be on Redis Cluster, where every key a script touches must be in KEYS.
--
-- Replies: a refusal (bad input, or a state that forbids the change) is an error reply
-- "REFUSED <message>". Everything else is a normal reply: a flat field/value array like
-- HGETALL, nil (claim_next: nothing to dispatch) or a list of ids (wrapups_release).
-- Redis does not roll a script back when it fails halfway, so every script validates
-- everything it can refuse on before its first write.

local K_CALLS, K_ACTIVE, K_DESKS, K_OFFERS, K_WRAPUPS, K_EVENTS =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local EVENTS_MAXLEN = '100000'
-- config.names.GENERAL_QUEUE (scripts cannot import it; a test holds the two equal)
local GENERAL = 'general'
local PREFIX, NOW

local function refuse(message)
  error({ refused = message })
end

-- Runs a script body; turns refuse() into a clean error reply and lets real errors
-- (bugs, wrong types) through untouched.
local function run(main)
  local ok, result = pcall(function()
    if #KEYS ~= 6 then refuse('expected the 6 fixed keys, got ' .. #KEYS) end
    PREFIX = ARGV[1]
    if PREFIX == nil or PREFIX == '' then refuse('key prefix (ARGV[1]) is required') end
    local now = tonumber(ARGV[2])
    if now == nil or now ~= math.floor(now) or now < 0 then
      refuse('now_ms must be a non-negative integer, got ' .. tostring(ARGV[2]))
    end
    NOW = now
    return main()
  end)
  if ok then return result end
  if type(result) == 'table' and result.refused then
    return redis.error_reply('REFUSED ' .. result.refused)
  end
  error(result, 0)
end

-- Integers leave Lua through string.format: redis.call would print a bare Lua number with
-- %.14g, which silently rounds queue scores (up to 10^15).
local function int_str(n)
  return string.format('%d', n)
end

local function arg_int(i, name, min, max)
  local v = tonumber(ARGV[i])
  if v == nil or v ~= math.floor(v) then
    refuse(name .. ' must be an integer, got ' .. tostring(ARGV[i]))
  end
  if (min and v < min) or (max and v > max) then
    refuse(name .. ' must be between ' .. tostring(min) .. ' and ' .. tostring(max or 'any')
      .. ', got ' .. int_str(v))
  end
  return v
end

-- Ids end up inside key names: no spaces, no control characters, bounded length.
local function check_id(value, name)
  if value == nil or value == '' then refuse(name .. ' is required') end
  if #value > 128 or not string.match(value, '^[%w][%w%._:@+/%-]*$') then
    refuse(name .. ' ' .. string.format('%q', value)
      .. ' is not a valid id (letters, digits and . _ : @ + / - only)')
  end
  return value
end

local function arg_id(i, name)
  return check_id(ARGV[i], name)
end

local function arg_text(i)
  return ARGV[i] or ''
end

local function call_key(call_id) return PREFIX .. 'call:' .. call_id end
local function desk_key(desk_id) return PREFIX .. 'desk:' .. desk_id end
local function queue_key(queue) return PREFIX .. 'queue:' .. queue end
local function ready_key(agency) return PREFIX .. 'desks:ready:' .. agency end
local function callbacks_key(queue) return PREFIX .. 'callbacks:' .. queue end
local function desks_of_key(agency) return PREFIX .. 'desks:of:' .. agency end
local function ready_for_key(queue) return PREFIX .. 'desks:ready_for:' .. queue end
local function logged_in_key(agency) return PREFIX .. 'desks:logged_in:' .. agency end
local function handle_times_key(queue) return PREFIX .. 'handle_ms:' .. queue end

-- A hash as a Lua table, or nil when the key does not exist.
local function load_hash(key)
  local flat = redis.call('HGETALL', key)
  if #flat == 0 then return nil end
  local record = {}
  for i = 1, #flat, 2 do record[flat[i]] = flat[i + 1] end
  return record
end

local function load_call(call_id) return load_hash(call_key(call_id)) end
local function load_desk(desk_id) return load_hash(desk_key(desk_id)) end

-- One event per state change: emit('offered', 'call_id', id, 'desk_id', d, ...).
local function emit(kind, ...)
  local fields = { ... }
  local args = { 'XADD', K_EVENTS, 'MAXLEN', '~', EVENTS_MAXLEN, '*', 'type', kind }
  for i = 1, #fields do args[#args + 1] = fields[i] end
  args[#args + 1] = 'ms'
  args[#args + 1] = int_str(NOW)
  redis.call(unpack(args))
end

-- Tells dispatchers that a caller or a desk may now be matched.
local function wake(reason)
  redis.call('PUBLISH', PREFIX .. 'wake', reason)
end

-- The queues a desk is cross-trained for: its record's comma-separated cross_trained.
local function cross_queues(cross_trained)
  return string.gmatch(cross_trained or '', '[^,]+')
end

local function trained_for(cross_trained, queue)
  return string.find(',' .. (cross_trained or '') .. ',', ',' .. queue .. ',', 1, true) ~= nil
end

-- Ready desks are indexed twice, both with score = ready since: by agency (desks:ready:) and,
-- for overflow, by each queue the desk is cross-trained for (desks:ready_for:). claim_next
-- then reads the head of a set instead of scanning every ready desk.
local function index_ready_desk(desk_id, agency, cross_trained, since)
  redis.call('ZADD', ready_key(agency), since, desk_id)
  for queue in cross_queues(cross_trained) do redis.call('ZADD', ready_for_key(queue), since, desk_id) end
end

-- The desk is no longer ready (rung, booked, paused, offline): out of every ready index.
-- cross_trained: the desk's, when the caller has read it (nil: read here).
local function unindex_ready_desk(desk_id, agency, cross_trained)
  redis.call('ZREM', ready_key(agency), desk_id)
  if cross_trained == nil then cross_trained = redis.call('HGET', desk_key(desk_id), 'cross_trained') end
  for queue in cross_queues(cross_trained) do redis.call('ZREM', ready_for_key(queue), desk_id) end
end

-- Logged in = any state but offline; desks:logged_in:<agency> holds them so claim_next and
-- transfer_start ask SCARD instead of reading every desk of the agency.
local function mark_logged_in(desk_id, agency, logged_in)
  redis.call(logged_in and 'SADD' or 'SREM', logged_in_key(agency), desk_id)
end

local function any_logged_in(agency)
  return redis.call('SCARD', logged_in_key(agency)) > 0
end

-- Puts a desk at the back of its agency's idle order (ready since now).
local function make_desk_ready(desk_id, agency)
  redis.call('HSET', desk_key(desk_id), 'state', 'ready', 'call_id', '', 'since_ms', int_str(NOW),
    'reason', '', 'wrap_up_until_ms', '')
  index_ready_desk(desk_id, agency, redis.call('HGET', desk_key(desk_id), 'cross_trained'), int_str(NOW))
  mark_logged_in(desk_id, agency, true)
end


-- --- caller numbers and callback tasks (queueing/numbers.py, queueing/callbacks.py) ------
-- Only numbers that can be dialled back are tracked: an optional '+' and 3 to 20 digits.
-- A withheld or anonymous caller ('', 'anonymous', 'unknown', ...) leaves no per-number state.
local NUMBER_TTL_MS = 7 * 24 * 3600 * 1000  -- per-number state of a number not heard from
local NUMBER_CALLS_KEPT = 200               -- newest call ids kept per number
local CALLBACK_OPEN = { pending = true, dialing = true, retry_at = true }

local function callable_number(n)
  if n == nil then return false end
  local digits = string.match(n, '^%+?(%d+)$')
  return digits ~= nil and #digits >= 3 and #digits <= 20
end

local function number_key(n) return PREFIX .. 'number:' .. n end
local function callback_key(call_id) return PREFIX .. 'callback:' .. call_id end
local function callback_tasks_key(queue) return PREFIX .. 'callback_tasks:' .. queue end

-- ivr -> queued (call_enqueue, call_to_idle_desk). The score is priority * 10^13 + arrival ms
-- (arrival at the hotline, not at the queue: time in the menu does not cost the caller their
-- place). A supervisor's policy for the caller's number is applied here, whoever queues:
-- lower_priority adds its priority_delta (at most 99), general_only puts the caller in the
-- general queue. Nobody is ever refused; the record's policy_applied says what changed.
-- Reply: call_id, queue, queue_score, position (1 = next to be served in that queue)
local function queue_call(call_id, call, queue, priority, choice, route_reason, language, ivr_path,
                          priority_reason)
  if priority_reason == '' then
    priority_reason = 'no_choice'
    if route_reason == 'chosen' then priority_reason = 'chosen' end
  end
  local policy_applied = ''
  if callable_number(call.caller) then
    local policy = redis.call('HMGET', number_key(call.caller) .. ':policy', 'policy', 'priority_delta')
    if policy[1] == 'general_only' and queue ~= GENERAL then
      queue, policy_applied = GENERAL, 'general_only'
      priority_reason = 'policy'
    elseif policy[1] == 'lower_priority' then
      priority = math.min(priority + (tonumber(policy[2]) or 1), 99)
      policy_applied = 'lower_priority'
      priority_reason = 'policy'
    end
  end

  -- 99 * 10^13 + ms since 1970 stays far below 2^53, where Lua numbers stop being exact.
  local score = int_str(priority * 10 ^ 13 + tonumber(call.arrived_ms))
  if language ~= '' then redis.call('HSET', call_key(call_id), 'language', language) end
  redis.call('HSET', call_key(call_id), 'state', 'queued', 'queue', queue, 'choice', choice,
    'priority', int_str(priority), 'route_reason', route_reason, 'queued_ms', int_str(NOW),
    'queue_score', score, 'policy_applied', policy_applied, 'priority_reason', priority_reason,
    'ivr_path', ivr_path, 'ivr_ms', int_str(math.max(0, NOW - tonumber(call.arrived_ms))))
  redis.call('ZADD', queue_key(queue), score, call_id)
  local position = redis.call('ZRANK', queue_key(queue), call_id) + 1
  emit('call_queued', 'call_id', call_id, 'queue', queue, 'priority', int_str(priority),
    'choice', choice, 'state', 'queued', 'policy_applied', policy_applied, 'priority_reason', priority_reason,
    'route_reason', route_reason)
  wake('call_queued')
  return { 'call_id', call_id, 'queue', queue, 'queue_score', score, 'position', int_str(position) }
end

-- Gives an open callback task its final status: off the open list, its number free for a
-- new one. The task's history is the events stream (type callback_<status>).
local function close_callback(task, status, reason)
  local now = int_str(NOW)
  redis.call('HSET', callback_key(task.call_id), 'status', status, 'reason', reason,
    'next_attempt_ms', '', 'updated_ms', now, 'closed_ms', now)
  redis.call('ZREM', callback_tasks_key(task.queue), task.call_id)
  if task.number ~= '' and redis.call('HGET', number_key(task.number), 'open_callback') == task.call_id then
    redis.call('HDEL', number_key(task.number), 'open_callback')
  end
  emit('callback_' .. status, 'call_id', task.call_id, 'number', task.number, 'queue', task.queue,
    'status', status, 'reason', reason)
end

-- Whether the citizen of a task got through to a desk after the call the task is for.
local function answered_since(task)
  if task.number == '' then return nil end
  local n = redis.call('HMGET', number_key(task.number), 'last_answered_ms', 'last_answered_call')
  if n[1] and tonumber(n[1]) > tonumber(task.abandoned_ms) then return n[2] end
  return nil
end


-- --- console users and sessions (queueing/accounts.py) ------------------------------------
local function user_key(name) return PREFIX .. 'user:' .. name end
local function user_sessions_key(name) return PREFIX .. 'user:' .. name .. ':sessions' end
local function session_key(session_id) return PREFIX .. 'session:' .. session_id end
local function desk_session_key(desk_id) return PREFIX .. 'desk:' .. desk_id .. ':session' end

-- Ends one console session: its hash, its place in the user's list, and its desk's binding
-- when it still holds it. The desk's state is the caller's business (it may be on a call).
local function end_session(session_id, reason)
  local session = load_hash(session_key(session_id))
  redis.call('DEL', session_key(session_id))
  if not session then return nil end
  redis.call('SREM', user_sessions_key(session.user), session_id)
  if session.desk ~= '' and redis.call('HGET', desk_session_key(session.desk), 'session_id') == session_id then
    redis.call('DEL', desk_session_key(session.desk))
  end
  emit('signed_out', 'user', session.user, 'desk_id', session.desk, 'reason', reason)
  return session
end

-- Ends every session of a user (password changed, user removed).
local function end_sessions_of(name, reason)
  for _, session_id in ipairs(redis.call('SMEMBERS', user_sessions_key(name))) do
    end_session(session_id, reason)
  end
  redis.call('DEL', user_sessions_key(name))
end


-- --- what the API asks the bridges to do to a call (telephony/call_control.py) ---------------
local function transfer_key(call_id) return PREFIX .. 'transfer:' .. call_id end
-- A transfer in these states is still open (queueing/transfers.py UNDER_WAY).
local under_way = { moving = true, ringback = true, answered = true, conferenced = true }

-- A hold, a hang-up or a second transfer waits for the open transfer of the call to end.
local function refuse_while_transferring(call_id)
  local transfer = load_hash(transfer_key(call_id))
  if transfer and under_way[transfer.transfer_state] then
    refuse('a transfer of call ' .. call_id .. ' is under way (' .. transfer.transfer_state .. ')')
  end
end

-- One entry of the call_commands stream, read once by the bridges' consumer group; its id.
-- ...: more field, value pairs (label, target_desk).
local function add_call_command(action, call_id, channel, desk_id, ...)
  return redis.call('XADD', PREFIX .. 'call_commands', 'MAXLEN', '~', '10000', '*', 'action', action,
    'call_id', call_id, 'channel', channel, 'desk_id', desk_id, 'ms', int_str(NOW), ...)
end

-- A held caller's hold ends now: held 0, and its time added to held_total_ms.
local function end_hold(call_id, call)
  if call.held ~= '1' then return end
  local total = (tonumber(call.held_total_ms) or 0) + math.max(0, NOW - (tonumber(call.held_ms) or NOW))
  redis.call('HSET', call_key(call_id), 'held', '0', 'held_total_ms', int_str(total))
end


-- --- incidents (queueing/incidents.py) -------------------------------------------------------
-- The agency an incident belongs to: that of the desk that took the call, else the call's queue.
local function owning_agency(call)
  if call.desk ~= nil and call.desk ~= '' then
    local agency = redis.call('HGET', desk_key(call.desk), 'agency')
    if agency then return agency end
  end
  if call.queue ~= nil and call.queue ~= '' then return call.queue end
  return GENERAL
end


-- --- supervisors listening to a desk's call (queueing/lua/spy_*.lua) ------------------------------
local function spy_key(desk_id) return PREFIX .. 'spy:' .. desk_id end
local function spy_by_key(desk_id) return PREFIX .. 'spy_by:' .. desk_id end
local function spies_key() return PREFIX .. 'spies' end
-- queueing.states.SpyMode
local SPY_MODES = { listen = true, whisper = true, barge = true }

-- Ends a spy session: its record and its supervisor desk's pointer go; event spy_stopped.
local function end_spy(desk_id, spy, reason)
  redis.call('DEL', spy_key(desk_id))
  redis.call('SREM', spies_key(), desk_id)
  if redis.call('GET', spy_by_key(spy.supervisor_desk)) == desk_id then
    redis.call('DEL', spy_by_key(spy.supervisor_desk))
  end
  emit('spy_stopped', 'desk_id', desk_id, 'call_id', spy.call_id, 'supervisor_desk', spy.supervisor_desk,
    'mode', spy.mode, 'spy_id', spy.spy_id, 'reason', reason, 'tell_call_taker', spy.tell_call_taker)
end


-- --- a supervisor's pick of a waiting caller for a named desk (call_pick, claim_next) ------
local function picks_key() return PREFIX .. 'picks' end

-- Why this desk cannot take this caller now (nil: it can): the caller waits in a queue, the
-- desk is ready and serves that queue (its agency's, general, or one it is cross-trained for).
local function pick_problem(call_id, call, desk_id, desk)
  if not call then return 'unknown call ' .. call_id end
  if call.state ~= 'queued' then
    return 'call ' .. call_id .. ' is ' .. call.state .. '; only a waiting caller can be picked'
  end
  if not desk then return 'unknown desk ' .. desk_id end
  if desk.state ~= 'ready' then
    return 'desk ' .. desk_id .. ' is ' .. desk.state .. '; only a ready desk can be picked'
  end
  if call.queue ~= GENERAL and call.queue ~= desk.agency
      and not trained_for(desk.cross_trained, call.queue) then
    return 'desk ' .. desk_id .. ' is a ' .. desk.agency .. ' desk, not cross-trained for ' .. call.queue
  end
  return nil
end

-- The pick of a caller is over (offered, dropped, or the caller moved): off the list. A call
-- whose record is gone gets none made by this.
local function end_pick(call_id, desk_id)
  redis.call('ZREM', picks_key(), call_id)
  if redis.call('EXISTS', call_key(call_id)) == 1 then redis.call('HSET', call_key(call_id), 'picked_desk', '') end
  if desk_id ~= '' and redis.call('HGET', desk_key(desk_id), 'picked_call') == call_id then
    redis.call('HSET', desk_key(desk_id), 'picked_call', '')
  end
end


-- --- supervisor alerts (queueing/alerts.py, queueing/alert_store.py) -------------------------
local function alert_key(alert_id) return PREFIX .. 'alert:' .. alert_id end
local function alerts_active_key() return PREFIX .. 'alerts:active' end
local function alerts_history_key() return PREFIX .. 'alerts:history' end
