import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import {
  AlertService,
  AuditService,
  AuthService,
  DeadLetterService,
  DeviceService,
  health,
  ReadingService,
  type RegisterRequest,
  Role,
  reflection,
} from "@vigil/proto";
import type { Scope } from "@vigil/users";

/** What a method needs: nothing ("public"), any signed-in user, or a scope. */
export type Access = "public" | "signed-in" | Scope;

type Rule = Access | ((request: MessageShape<DescMessage>) => Access);

export interface AccessOptions {
  /** Anyone may register a plain user (AUTH_OPEN_REGISTRATION). */
  openRegistration: boolean;
}

/**
 * The one table of who may call what. A method missing here is refused
 * (fail closed), so a new RPC cannot ship unprotected by accident.
 */
export function accessRules(options: AccessOptions): Map<string, Rule> {
  const rules: Array<[{ typeName: string }, string, Rule]> = [
    [AuthService, "Login", "public"],
    [AuthService, "Refresh", "public"],
    [AuthService, "Logout", "public"],
    [
      AuthService,
      "Register",
      (req) => ((req as RegisterRequest).role === Role.ADMIN || !options.openRegistration ? "users:admin" : "public"),
    ],
    [ReadingService, "ListReadings", "readings:read"],
    [ReadingService, "GetStats", "readings:read"],
    [ReadingService, "WatchReadings", "readings:read"],
    [ReadingService, "GetReadingHistory", "readings:read"],
    [ReadingService, "UpdateReadings", "readings:correct"],
    [ReadingService, "DeleteReadings", "readings:delete"],
    [ReadingService, "UndeleteReadings", "readings:delete"],
    [AuditService, "ListAuditLog", "audit:read"],
    ...["CreateDevice", "GetDevice", "ListDevices", "RotateDeviceKey", "RevokeDeviceKey", "DisableDevice"].map(
      (m) => [DeviceService, m, "devices:admin"] as [{ typeName: string }, string, Rule],
    ),
    [DeadLetterService, "ListDeadLetters", "devices:admin"],
    [DeadLetterService, "ReplayDeadLetter", "devices:admin"],
    // Alerts: people on call read, acknowledge and silence; admins change rules and channels (SSRF, secrets).
    ...["ListAlertRules", "ListAlerts", "GetAlert", "WatchAlerts", "ListSilences", "ListNotificationChannels"].map(
      (m) => [AlertService, m, "alerts:read"] as [{ typeName: string }, string, Rule],
    ),
    [AlertService, "ListDeliveries", "alerts:read"],
    ...["AcknowledgeAlert", "CreateSilence", "DeleteSilence"].map(
      (m) => [AlertService, m, "alerts:write"] as [{ typeName: string }, string, Rule],
    ),
    ...[
      "CreateAlertRule",
      "UpdateAlertRule",
      "DeleteAlertRule",
      "CreateNotificationChannel",
      "TestNotificationChannel",
      "RetryDelivery",
    ].map((m) => [AlertService, m, "alerts:admin"] as [{ typeName: string }, string, Rule]),
    // Probes and tools: what runs here and in what shape, never data.
    [health.Health, "Check", "public"],
    [health.Health, "Watch", "public"],
    [health.Health, "List", "public"],
    [reflection.ServerReflection, "ServerReflectionInfo", "public"],
  ];
  return new Map(rules.map(([service, method, rule]) => [`${service.typeName}/${method}`, rule]));
}
