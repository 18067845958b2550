// The keeper network's script SDK for AssemblyScript: host bindings (keeper.ts) and ABI helpers (abi.ts).
export * from "./keeper";
export * from "./abi";
