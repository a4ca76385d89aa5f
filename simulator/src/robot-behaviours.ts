import { demoRobotParts } from "@vigil/demo";
import type { ProcedureRecorder } from "./procedure-recorder.ts";
import { RobotBehaviour } from "./robot-behaviour.ts";
import { kindForCode } from "./sensor-profiles.ts";
import type { DeviceBehaviour, DeviceIdentity } from "./simulated-device.ts";

/**
 * Gives every surgical robot of a fleet its procedures and wearing parts:
 * the demo fleet's parts for its code and number as they are now, so a robot
 * the demo seed wrote a history for carries on from it.
 */
export function robotBehaviourFor(options: {
  procedureMs: number;
  gapMs: number;
  recorder?: ProcedureRecorder;
  site?: string;
}): (identity: DeviceIdentity) => DeviceBehaviour | undefined {
  return (identity) => {
    if (kindForCode(identity.code) !== "surgical_robot") return undefined;
    return new RobotBehaviour(identity, {
      ...options,
      parts: demoRobotParts(identity.code, identity.number, Date.now()),
    });
  };
}
