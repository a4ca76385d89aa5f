import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { DeadLetterService, DeviceService } from "@vigil/proto";

const ADMIN_SERVICES = new Set([DeviceService.typeName, DeadLetterService.typeName]);

/**
 * Refuses the admin services (devices, keys, dead letters) while
 * QUERY_DEVICE_ADMIN_ENABLED is off, with a status that says why.
 */
export function adminGuard(enabled: boolean): Interceptor {
  return (next) => async (req) => {
    if (!enabled && ADMIN_SERVICES.has(req.service.typeName)) {
      throw new ConnectError(
        "device administration is disabled on this server (QUERY_DEVICE_ADMIN_ENABLED=false)",
        Code.PermissionDenied,
      );
    }
    return next(req);
  };
}
