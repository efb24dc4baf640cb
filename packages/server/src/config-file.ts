/**
 * The config file: the one `BACKCHANNEL_CONFIG` (or `--config`) names, else a
 * `backchannel.config.*` in the working folder. Loaded with c12, so it may be JSON, YAML, TOML,
 * JavaScript or TypeScript. Its keys are the settings' names in camelCase ({@link fileKey}); it
 * only reads them: {@link loadConfig} checks them with the flags and the environment.
 * @module
 */
import { resolve } from 'node:path'
import { closest } from './closest.js'
import { ConfigError, type ConfigFile, type ConfigOverrides, fileKey, SETTINGS } from './config.js'

/** Options of {@link readConfigFile}. */
export interface ReadConfigFileOptions {
  /** The file `--config` names; it wins over `env.BACKCHANNEL_CONFIG`. */
  path?: string | undefined
  /** Where `backchannel.config.*` is looked for, and relative paths start. Default `process.cwd()`. */
  cwd?: string
  env?: NodeJS.ProcessEnv
}

/**
 * Reads the config file, or resolves `undefined` when none is named and none is in `cwd`.
 *
 * @example
 * ```ts
 * const config = loadConfig(process.env, {}, await readConfigFile())
 * ```
 * @throws {ConfigError} when the named file is missing or unreadable, or a key is unknown (naming the
 * closest known one) or holds an object.
 */
export async function readConfigFile(options: ReadConfigFileOptions = {}): Promise<ConfigFile | undefined> {
  const { cwd = process.cwd(), env = process.env } = options
  const named = options.path ?? (env.BACKCHANNEL_CONFIG?.trim() || undefined)
  const source = options.path !== undefined ? 'set by flag --config' : 'set in the environment'
  // Loaded here, not at the top: the CLI's other commands never read the file and need not pay for c12.
  const { loadConfig: loadC12 } = await import('c12')
  let loaded: Awaited<ReturnType<typeof loadC12>>
  try {
    loaded = await loadC12({
      name: 'backchannel',
      cwd,
      ...(named === undefined ? {} : { configFile: resolve(cwd, named) }),
      // The file alone: no .env, rc files, package.json key, `extends` or environment sections.
      dotenv: false,
      rcFile: false,
      globalRc: false,
      packageJson: false,
      envName: false,
      giget: false,
      extend: false,
    })
  } catch (err) {
    const what = named === undefined ? `backchannel.config.* in ${cwd}` : resolve(cwd, named)
    throw new ConfigError('BACKCHANNEL_CONFIG', `cannot read ${what}: ${(err as Error).message}`, source)
  }
  const path = loaded._configFile
  if (path === undefined) {
    if (named === undefined) return undefined
    throw new ConfigError('BACKCHANNEL_CONFIG', `${resolve(cwd, named)} does not exist`, source)
  }
  return { path, settings: settingsOf(loaded.config, path) }
}

const SETTING_BY_KEY = new Map(SETTINGS.map((setting) => [fileKey(setting), setting]))

/** The file's values by setting name, as text; lists become comma lists. */
function settingsOf(config: Record<string, unknown>, path: string): ConfigOverrides {
  const settings: ConfigOverrides = {}
  for (const [key, value] of Object.entries(config)) {
    const setting = SETTING_BY_KEY.get(key)
    if (setting === undefined) {
      throw new ConfigError('BACKCHANNEL_CONFIG', `${path} has an unknown key "${key}"${suggestion(closestKey(key))}`)
    }
    if (value === undefined || value === null) continue
    const items = Array.isArray(value) ? value : [value]
    if (!items.every((item) => ['string', 'number', 'boolean'].includes(typeof item))) {
      throw new ConfigError(
        setting,
        'must be a string, a number, true or false, or a list of them',
        `set in ${path} as "${key}"`,
      )
    }
    settings[setting] = items.join(',')
  }
  return settings
}

const suggestion = (near: string | undefined) => (near === undefined ? '' : `: did you mean "${near}"?`)

/** The known key nearest to `key`, if any: `BACKCHANNEL_STORAGE` → `storage`, `prot` → `port`. */
function closestKey(key: string): string | undefined {
  const asVariable = SETTINGS.find((setting) => setting === key.toUpperCase())
  return asVariable ? fileKey(asVariable) : closest(key, SETTING_BY_KEY.keys())
}
