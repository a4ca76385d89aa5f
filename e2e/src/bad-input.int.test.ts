import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Pipeline } from "./pipeline.ts";
import { startTestPipeline } from "./test-pipeline.ts";

describe("bad input is the client's error (400 invalid_argument), never a 500", () => {
  let pipeline: Pipeline;
  let token: string;

  beforeAll(async () => {
    pipeline = await startTestPipeline();
    token = await pipeline.adminToken();
    await pipeline.provision("BAD", 1);
  });
  afterAll(() => pipeline?.stop());

  async function call(method: string, body: string, contentType = "application/json") {
    const res = await fetch(`${pipeline.queryUrl}/${method}`, {
      method: "POST",
      headers: { "content-type": contentType, authorization: `Bearer ${token}` },
      body,
    });
    return { status: res.status, body: (await res.json()) as { code?: string; message?: string } };
  }

  it("item 13: GetDevice with a device number beyond what a device can have", async () => {
    const res = await call("vigil.devices.v1.DeviceService/GetDevice", '{"code": "BAD", "number": 3000000000}');
    expect(res).toMatchObject({ status: 400, body: { code: "invalid_argument", message: /^number: device number/ } });
  });

  it("item 13: UpdateReadings moving readings to 9999-12-31", async () => {
    const res = await call(
      "vigil.readings.v1.ReadingService/UpdateReadings",
      '{"filter": {"deviceCode": "BAD"}, "changes": {"time": "9999-12-31T00:00:00Z"}}',
    );
    expect(res).toMatchObject({ status: 400, body: { code: "invalid_argument", message: /^changes.time: must be/ } });
  });

  it("item 13: an application/proto body holding JSON", async () => {
    const res = await call("vigil.readings.v1.ReadingService/ListReadings", '{"pageSize": 5}', "application/proto");
    expect(res).toMatchObject({
      status: 400,
      body: { code: "invalid_argument", message: /not a vigil.readings.v1.ListReadingsRequest/ },
    });
  });

  it("item 13: numbers and text no check knows about are still refused as the client's (filters, NUL bytes)", async () => {
    const cases: Array<[string, string]> = [
      ["vigil.readings.v1.ReadingService/ListReadings", '{"filter": {"deviceNumber": 3000000000}}'],
      ["vigil.ingest.v1.DeadLetterService/ListDeadLetters", '{"deviceNumber": 3000000000}'],
      ["vigil.ingest.v1.DeadLetterService/ListDeadLetters", '{"deviceCode": "A\\u0000"}'],
      // No rule covers an audit actor: the database's data exception is mapped instead.
      ["vigil.audit.v1.AuditService/ListAuditLog", '{"actor": "user:\\u0000"}'],
      ["vigil.devices.v1.DeviceService/CreateDevice", '{"code": "NUL", "number": 1, "labels": {"a": "\\u0000"}}'],
    ];
    for (const [method, body] of cases) {
      expect(await call(method, body), `${method} ${body}`).toMatchObject({
        status: 400,
        body: { code: "invalid_argument" },
      });
    }
  });
});
