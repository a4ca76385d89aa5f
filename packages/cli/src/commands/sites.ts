import { create } from "@bufbuild/protobuf";
import { FieldMaskSchema } from "@bufbuild/protobuf/wkt";
import { Command, InvalidArgumentError, type OptionValues } from "@commander-js/extra-typings";
import { type Site, SiteSchema } from "@vigil/client";
import type { Cli } from "../cli.ts";
import { integer } from "../flags.ts";
import { type Column, messageJson } from "../output.ts";
import { collectPages } from "../paging.ts";
import { UsageError } from "../usage-error.ts";

const siteColumns: Column[] = ["name", "displayName", "timeZone", "availableHoursPerDay", "deviceCount", "updateTime"];

/** Hours per day a site's robots are available: (0, 24]. */
function hoursPerDay(text: string): number {
  const n = Number(text);
  if (text.trim() === "" || !Number.isFinite(n) || n <= 0 || n > 24) {
    throw new InvalidArgumentError("must be a number of hours above 0 and at most 24");
  }
  return n;
}

/** The fields a site command may set (the API checks their values). */
function siteFields<A extends unknown[], O extends OptionValues, G extends OptionValues>(command: Command<A, O, G>) {
  return command
    .requiredOption("--name <name>", "1 to 63 lower-case letters, digits and '-', such as st-marys")
    .option("--display-name <text>", "the name people read, up to 200 characters")
    .option("--time-zone <zone>", "IANA time zone, such as Europe/London (default UTC)")
    .option(
      "--hours-per-day <hours>",
      "hours a day its robots are scheduled to be available (default 24)",
      hoursPerDay,
    );
}

/** `vigil sites …`: FleetService's sites (reading needs fleet:read, changing fleet:admin). */
export function sitesCommand(cli: Cli) {
  const sites = new Command("sites").description("sites robots are assigned to (admins change them)");

  siteFields(sites.command("create").description("register a site")).action(async (o) => {
    const { site } = await (await cli.api()).fleet.createSite(
      {
        site: {
          name: o.name,
          displayName: o.displayName,
          timeZone: o.timeZone,
          availableHoursPerDay: o.hoursPerDay,
        },
      },
      cli.call,
    );
    cli.output.object(messageJson(SiteSchema, site ?? create(SiteSchema)));
  });

  siteFields(sites.command("update").description("change the fields given; the name stays")).action(async (o) => {
    const paths = [
      o.displayName !== undefined && "display_name",
      o.timeZone !== undefined && "time_zone",
      o.hoursPerDay !== undefined && "available_hours_per_day",
    ].filter((p): p is string => p !== false);
    if (paths.length === 0)
      throw new UsageError("nothing to change: give --display-name, --time-zone or --hours-per-day");
    const { site } = await (await cli.api()).fleet.updateSite(
      {
        site: {
          name: o.name,
          displayName: o.displayName,
          timeZone: o.timeZone,
          availableHoursPerDay: o.hoursPerDay,
        },
        updateMask: create(FieldMaskSchema, { paths }),
      },
      cli.call,
    );
    cli.output.object(messageJson(SiteSchema, site ?? create(SiteSchema)));
  });

  sites
    .command("get")
    .description("one site")
    .requiredOption("--name <name>", "the site's name")
    .action(async (o) => {
      const { site } = await (await cli.api()).fleet.getSite({ name: o.name }, cli.call);
      cli.output.object(messageJson(SiteSchema, site ?? create(SiteSchema)));
    });

  sites
    .command("list")
    .description("sites by name, with how many devices each has")
    .option("--limit <n>", "at most this many", integer(1, 100_000), 1000)
    .action(async (o) => {
      const vigil = await cli.api();
      const out = await collectPages<Site>(o.limit, async (pageSize, pageToken) => {
        const page = await vigil.fleet.listSites({ pageSize, pageToken }, cli.call);
        return [page.sites, page.nextPageToken];
      });
      cli.output.list(
        out.map((s) => messageJson(SiteSchema, s)),
        siteColumns,
      );
    });

  return sites;
}
