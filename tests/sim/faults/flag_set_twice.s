# A flag set twice with no wait in between (npu-facts.md: never set the same flag twice).
  set_flag mte2, v, 3
  set_flag mte2, v, 3
  wait_flag mte2, v, 3
  end
