-- callback_create: the callback task of an abandoned call (rq job create_callback).
-- Idempotent: a task that already exists is returned unchanged (created = "0").
-- ARGV[3..] call_id
-- Reply: the task's fields (queueing/callbacks.py TASK_FIELDS), then created ("1" or "0").
--
-- Status of a new task:
--   not_possible  the number is withheld or cannot be dialled (reason says which)
--   not_needed    the citizen called again and a desk answered after this abandonment, or
--                 the number already has an open task (that task counts one more abandon)
--   pending       otherwise: on callback_tasks:{queue}, due now, the number's open callback
-- A task's queue is the call's queue (general when the caller never chose); its priority the
-- call's (0 when it never got one: an unknown emergency is treated as the most urgent).
local FIELDS = { 'call_id', 'number', 'queue', 'priority', 'abandoned_ms', 'abandon_stage',
  'wait_ms', 'choice', 'created_ms', 'status', 'reason', 'attempts', 'abandons',
  'next_attempt_ms', 'last_outcome', 'desk', 'dialing_ms', 'updated_ms', 'closed_ms' }

local function reply(task, created)
  local out = {}
  for _, f in ipairs(FIELDS) do
    out[#out + 1] = f
    out[#out + 1] = task[f] or ''
  end
  out[#out + 1] = 'created'
  out[#out + 1] = created
  return out
end

return run(function()
  local call_id = arg_id(3, 'call_id')

  local existing = load_hash(callback_key(call_id))
  if existing then return reply(existing, '0') end
  local call = load_call(call_id)
  if not call then refuse('unknown call ' .. call_id) end
  if call.state ~= 'abandoned' then
    refuse('call ' .. call_id .. ' is ' .. tostring(call.state)
      .. '; only an abandoned call gets a callback')
  end

  local now = int_str(NOW)
  local number = call.caller or ''
  local queue = (call.queue ~= nil and call.queue ~= '') and call.queue or GENERAL
  local priority = tonumber(call.priority) or 0
  local abandoned = tonumber(call.ended_ms) or NOW
  local task = {
    call_id = call_id, number = number, queue = queue, priority = int_str(priority),
    abandoned_ms = int_str(abandoned), abandon_stage = call.abandon_stage or '',
    wait_ms = call.wait_ms or '', choice = call.choice or '', created_ms = now,
    status = 'pending', reason = '', attempts = '0', abandons = '1', next_attempt_ms = now,
    last_outcome = '', desk = '', dialing_ms = '', updated_ms = now, closed_ms = '',
  }

  if not callable_number(number) then
    task.status = 'not_possible'
    if number == '' then
      task.reason = 'number withheld'
    else
      task.reason = 'number ' .. string.format('%q', number) .. ' cannot be dialled'
    end
  else
    local answered = answered_since(task)
    local open = redis.call('HGET', number_key(number), 'open_callback')
    local other = open and open ~= call_id and load_hash(callback_key(open))
    if answered then
      task.status = 'not_needed'
      task.reason = 'called again and was answered (call ' .. answered .. ')'
    elseif other and CALLBACK_OPEN[other.status] then
      task.status = 'not_needed'
      task.reason = 'the number already has callback ' .. open
      redis.call('HINCRBY', callback_key(open), 'abandons', 1)
    end
  end
  if task.status ~= 'pending' then
    task.next_attempt_ms, task.closed_ms = '', now
  end

  local flat = {}
  for _, f in ipairs(FIELDS) do
    flat[#flat + 1] = f
    flat[#flat + 1] = task[f]
  end
  redis.call('HSET', callback_key(call_id), unpack(flat))
  if task.status == 'pending' then
    redis.call('ZADD', callback_tasks_key(queue), int_str(priority * 10 ^ 13 + abandoned), call_id)
    redis.call('HSET', number_key(number), 'open_callback', call_id)
    redis.call('PEXPIRE', number_key(number), NUMBER_TTL_MS)
  end
  emit('callback_created', 'call_id', call_id, 'number', number, 'queue', queue,
    'status', task.status, 'reason', task.reason)
  return reply(task, '1')
end)
