import t from "tap";
import { OddwireError, isOddwireError } from "@oddwire/shared";

t.test("OddwireError carries its code and cause", async (t) => {
  const cause = new Error("boom");
  const err = new OddwireError("ODW_ERR_CONFIG", "bad", { cause });
  t.equal(err.code, "ODW_ERR_CONFIG");
  t.equal(err.cause, cause);
  t.ok(isOddwireError(err, "ODW_ERR_CONFIG"));
  t.notOk(isOddwireError(err, "ODW_ERR_USAGE"));
});
