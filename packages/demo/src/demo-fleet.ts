import { DAY_MS, type PartLife, type RobotSpec, randomFor, robotHistory, uniform } from "@vigil/robot-sim";

const SITE_NAMES = [
  ["st-marys", "St Mary's Hospital"],
  ["city-general", "City General"],
  ["northside", "Northside Medical Centre"],
  ["riverside", "Riverside Clinic"],
  ["university", "University Hospital"],
  ["royal-infirmary", "Royal Infirmary"],
  ["lakeside", "Lakeside Surgical"],
  ["westfield", "Westfield Hospital"],
  ["harbour", "Harbour Hospital"],
  ["valley", "Valley Regional"],
] as const;

const MODELS = [
  ["Intuitive", "da Vinci Xi"],
  ["Intuitive", "da Vinci X"],
  ["CMR Surgical", "Versius"],
  ["Medtronic", "Hugo RAS"],
] as const;

export interface DemoSite {
  name: string;
  displayName: string;
  availableHoursPerDay: number;
}

export interface DemoRobot extends RobotSpec {
  manufacturer: string;
  model: string;
  serialNumber: string;
  firmware: string;
}

/** The demo's sites: named hospitals, then "site-11" and on; 10 to 14 scheduled hours a day. */
export function demoSites(count: number): DemoSite[] {
  return Array.from({ length: count }, (_, i) => {
    const [name, displayName] = SITE_NAMES[i] ?? [`site-${i + 1}`, `Site ${i + 1}`];
    return { name, displayName, availableHoursPerDay: 10 + Math.floor(randomFor("site", name)() * 5) };
  });
}

/** The demo fleet entered service in 2020 and 2021: its parts are at every stage of wear by now. */
const COMMISSIONED_FROM_MS = Date.UTC(2020, 0, 1);

/**
 * The demo's robots CODE-1..n, spread over the sites in turn. The same
 * arguments give the same fleet on any day, so a later seed continues an
 * earlier one.
 */
export function demoRobots(code: string, count: number, sites: DemoSite[]): DemoRobot[] {
  return Array.from({ length: count }, (_, i) => demoRobot(code, i + 1, sites[i % sites.length]!));
}

/** Demo robot CODE-number at a site. */
export function demoRobot(code: string, number: number, site: DemoSite): DemoRobot {
  const random = randomFor("robot", code, number);
  const [manufacturer, model] = MODELS[Math.floor(random() * MODELS.length)]!;
  return {
    code,
    number,
    site: site.name,
    availableHoursPerDay: site.availableHoursPerDay,
    proceduresPerDay: uniform(random, 2, 4),
    commissionedMs: COMMISSIONED_FROM_MS + Math.floor(uniform(random, 0, 400)) * DAY_MS,
    manufacturer,
    model,
    serialNumber: `SN${String(Math.floor(random() * 1e8)).padStart(8, "0")}`,
    firmware: `4.${Math.floor(random() * 4)}.${Math.floor(random() * 10)}`,
  };
}

/**
 * The parts of demo robot CODE-number as they are at `nowMs`: the seeded
 * history's parts, so a simulator running the robot live continues its
 * trends where the seed left them.
 */
export function demoRobotParts(code: string, number: number, nowMs: number): PartLife[] {
  return robotHistory(demoRobot(code, number, demoSites(1)[0]!), nowMs - DAY_MS, nowMs).parts;
}
