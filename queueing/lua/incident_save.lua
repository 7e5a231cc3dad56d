-- incident_save: a change of a call's incident form (queueing/incidents.py), made only when
-- it starts from the incident's current version (optimistic concurrency: two call-takers, or
-- one browser submitting twice, never overwrite each other unseen). The first save creates
-- the incident. The disposition is copied into the call record (history shows it); the
-- first "dispatched" stamps dispatched_ms. Notes are incident_note's.
-- The incident belongs to the agency of the desk that took the call (else the call's queue),
-- fixed at the first change.
-- ARGV[3..] call_id, by (user name), expected_version, then field/value pairs of FIELDS
-- Reply: call_id, version, changed (comma-separated fields whose value changed)
local FIELDS = { nature = true, nature_text = true, location_text = true, priority = true,
  agencies = true, disposition = true, duplicate_of = true }
local DISPOSITIONS = { dispatched = true, advice_given = true, false_call = true, prank = true,
  duplicate = true }

return run(function()
  local call_id = arg_id(3, 'call_id')
  local by = arg_text(4)
  if by == '' then refuse('by is required: who changes the incident') end
  local expected = arg_int(5, 'expected_version', 0)
  local call = load_call(call_id)
  if not call then refuse('unknown call ' .. call_id) end
  local agency = owning_agency(call)

  local key = PREFIX .. 'incident:' .. call_id
  local incident = load_hash(key) or { version = '0' }
  local version = tonumber(incident.version)
  if expected ~= version then
    -- queueing/incidents.py words this for people from the incident as it is now.
    refuse('stale version ' .. int_str(expected) .. ': the incident of call ' .. call_id
      .. ' is at version ' .. int_str(version))
  end

  local new = {}
  for i = 6, #ARGV, 2 do
    local field, value = ARGV[i], ARGV[i + 1]
    if not FIELDS[field] then refuse('unknown incident field ' .. string.format('%q', field)) end
    if value == nil then refuse('field ' .. field .. ' has no value') end
    new[field] = value
  end
  local disposition = new.disposition or incident.disposition or ''
  if new.disposition and new.disposition ~= '' and not DISPOSITIONS[new.disposition] then
    refuse('unknown disposition ' .. string.format('%q', new.disposition))
  end
  if new.priority and new.priority ~= '' and not string.match(new.priority, '^[0-4]$') then
    refuse('priority must be 0 (highest) to 4 (lowest), got ' .. string.format('%q', new.priority))
  end
  local duplicate_of = new.duplicate_of or incident.duplicate_of or ''
  if disposition == 'duplicate' then
    if duplicate_of == '' then refuse('a duplicate needs duplicate_of: the call it repeats') end
    if duplicate_of == call_id then refuse('a call cannot be a duplicate of itself') end
    if not load_call(check_id(duplicate_of, 'duplicate_of')) then
      refuse('duplicate_of: unknown call ' .. duplicate_of)
    end
  end

  local changed, args = {}, {}
  for field, value in pairs(new) do
    if (incident[field] or '') ~= value then
      changed[#changed + 1] = field
      args[#args + 1] = field
      args[#args + 1] = value
    end
  end
  table.sort(changed)
  if #changed == 0 then
    return { 'call_id', call_id, 'version', int_str(version), 'changed', '' }
  end
  local now = int_str(NOW)
  version = version + 1
  if not incident.created_ms then
    redis.call('HSET', key, 'call_id', call_id, 'agency', agency, 'created_ms', now)
  end
  local list = table.concat(changed, ',')
  redis.call('HSET', key, 'version', int_str(version), 'updated_ms', now, 'updated_by', by,
    'last_changed', list, unpack(args))
  if new.disposition then
    redis.call('HSET', call_key(call_id), 'disposition', new.disposition)
    if new.disposition == 'dispatched' and not incident.dispatched_ms then
      redis.call('HSET', key, 'dispatched_ms', now)
    end
  end
  emit('incident_saved', 'call_id', call_id, 'queue', call.queue or '', 'agency',
    incident.agency or agency, 'version', int_str(version), 'fields', list, 'by', by,
    'disposition', disposition)
  return { 'call_id', call_id, 'version', int_str(version), 'changed', list }
end)
