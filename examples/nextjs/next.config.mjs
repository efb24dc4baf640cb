/** @type {import('next').NextConfig} */
export default {
  // The workspace root, where pnpm's lockfile and node_modules are.
  turbopack: { root: new URL('../..', import.meta.url).pathname },
  // `next dev` asks the npm registry about upgrades (outside CI): the example stays on loopback.
  experimental: { agentUpgrade: false },
}
