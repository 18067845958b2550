// A time-based job: send the job's call data only inside a daily window (UTC), optionally on weekdays only;
// otherwise skip, saying why. Pair it with an interval or block trigger: the trigger sets how often it is
// checked, the script when it acts.
//
// Arguments: abi.encode(uint64 fromHour, uint64 toHour, bool weekdaysOnly, bytes callData), hours 0-24 UTC,
// the window [fromHour, toHour).
import { args, blockTimestamp, fail, perform, skip } from "../assembly/keeper";
import { Decoder } from "../assembly/abi";

const DAYS: string[] = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

function twoDigits(value: u64): string {
  return (value < 10 ? "0" : "") + value.toString();
}

export function run(): void {
  const input = new Decoder(args());
  const fromHour = input.uint();
  const toHour = input.uint();
  const weekdaysOnly = input.bool();
  const callData = input.bytes();
  if (fromHour >= toHour || toHour > 24) fail("arguments: the window must satisfy fromHour < toHour <= 24");

  const now = blockTimestamp();
  const secondOfDay = now % 86400;
  const hour = secondOfDay / 3600;
  // 1970-01-01 was a Thursday; 0 = Sunday.
  const day = <i32>((now / 86400 + 4) % 7);
  const clock = DAYS[day] + " " + twoDigits(hour) + ":" + twoDigits((secondOfDay % 3600) / 60) + " UTC";
  if (weekdaysOnly && (day == 0 || day == 6)) {
    skip("weekend: " + clock);
  }
  if (hour < fromHour || hour >= toHour) {
    skip("outside " + twoDigits(fromHour) + ":00-" + twoDigits(toHour) + ":00 UTC: " + clock);
  }
  perform(callData);
}
