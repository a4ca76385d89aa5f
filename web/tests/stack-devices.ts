/** The robot's twenty sensors in the test stack (and the console bench). */
export const ROBOT_SENSORS = Array.from({ length: 20 }, (_, i) => `joint${Math.floor(i / 4) + 1}.sensor_${i % 4}`);
