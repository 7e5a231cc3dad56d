-- pop_seen: the call-taker's page drew the screen pop of a call it was offered. Goes on the
-- audit trail (the events stream) with the server's time and the delay since the offer; the
-- call record keeps the first one (pop_seen_ms), for the pop latency figures.
-- ARGV[3..] call_id, desk_id, browser_ms (the page's clock when it drew the pop; may be empty),
--          user (who was signed in)
-- Reply: call_id, desk_id, pop_seen_ms, delay_ms (since offered_ms; "" when never offered), first (1/0)
return run(function()
  local call_id = arg_id(3, 'call_id')
  local desk_id = arg_id(4, 'desk_id')
  local browser_ms = ''
  if (ARGV[5] or '') ~= '' then browser_ms = int_str(arg_int(5, 'browser_ms', 0)) end
  local user = arg_text(6)
  if #user > 80 then refuse('user is longer than 80 characters') end
  local call = load_call(call_id)
  if not call then refuse('unknown call ' .. call_id) end

  local delay = ''
  if (call.offered_ms or '') ~= '' then delay = int_str(NOW - tonumber(call.offered_ms)) end
  local first = '0'
  if (call.pop_seen_ms or '') == '' then
    first = '1'
    redis.call('HSET', call_key(call_id), 'pop_seen_ms', int_str(NOW), 'pop_seen_desk', desk_id,
      'pop_delay_ms', delay)
  end
  emit('pop_seen', 'call_id', call_id, 'desk_id', desk_id, 'queue', call.queue, 'user', user,
    'browser_ms', browser_ms, 'delay_ms', delay, 'first', first)
  return { 'call_id', call_id, 'desk_id', desk_id, 'pop_seen_ms', int_str(NOW), 'delay_ms', delay, 'first', first }
end)
