import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import {
  AlertService,
  AuditService,
  AuthService,
  DeadLetterService,
  DeviceService,
  FleetService,
  health,
  MaintenanceService,
  ProcedureService,
  ReadingService,
  type RegisterRequest,
  Role,
  reflection,
  SsoService,
  UserService,
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
    // Anyone signed in changes their own password (the current one is checked, and limited).
    [AuthService, "ChangePassword", "signed-in"],
    ...["ListUsers", "DisableUser", "EnableUser", "DeleteUser", "SetUserRole", "ResetPassword"].map(
      (m) => [UserService, m, "users:admin"] as [{ typeName: string }, string, Rule],
    ),
    // Single sign-on: whether it is on (for the console's button), and the code exchange.
    [SsoService, "GetSsoConfig", "public"],
    [SsoService, "ExchangeSsoCode", "public"],
    [
      AuthService,
      "Register",
      // Open registration makes plain users only; any other role is given by an admin.
      (req) => {
        const role = (req as RegisterRequest).role;
        return (role === Role.USER || role === Role.UNSPECIFIED) && options.openRegistration ? "public" : "users:admin";
      },
    ],
    [ReadingService, "ListReadings", "readings:read"],
    [ReadingService, "GetStats", "readings:read"],
    [ReadingService, "WatchReadings", "readings:read"],
    [ReadingService, "GetReadingHistory", "readings:read"],
    [ReadingService, "UpdateReadings", "readings:correct"],
    [ReadingService, "DeleteReadings", "readings:delete"],
    [ReadingService, "UndeleteReadings", "readings:delete"],
    [AuditService, "ListAuditLog", "audit:read"],
    ...[
      "CreateDevice",
      "GetDevice",
      "ListDevices",
      "RotateDeviceKey",
      "RevokeDeviceKey",
      "DisableDevice",
      "UpdateDevice",
      "EnableDevice",
      "DeleteDevice",
      "RegisterDeviceCertificate",
      "RotateDeviceCertificate",
      "RevokeDeviceCertificate",
    ].map((m) => [DeviceService, m, "devices:admin"] as [{ typeName: string }, string, Rule]),
    [FleetService, "GetSite", "fleet:read"],
    [FleetService, "ListSites", "fleet:read"],
    [FleetService, "GetFleetSummary", "fleet:read"],
    [FleetService, "CreateSite", "fleet:admin"],
    [FleetService, "UpdateSite", "fleet:admin"],
    [ProcedureService, "GetProcedure", "procedures:read"],
    [ProcedureService, "ListProcedures", "procedures:read"],
    [ProcedureService, "GetProcedureTelemetry", "procedures:read"],
    [ProcedureService, "StartProcedure", "procedures:write"],
    [ProcedureService, "EndProcedure", "procedures:write"],
    [ProcedureService, "RecordOutcome", "procedures:write"],
    [MaintenanceService, "GetMaintenanceRecord", "maintenance:read"],
    [MaintenanceService, "ListMaintenanceRecords", "maintenance:read"],
    [MaintenanceService, "GetMaintenanceForecast", "maintenance:read"],
    [MaintenanceService, "ListMaintenanceForecasts", "maintenance:read"],
    [MaintenanceService, "RecordMaintenance", "maintenance:write"],
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
