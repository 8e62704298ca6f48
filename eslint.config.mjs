// ESLint (flat config) for the front end: `npm run lint`. typescript-eslint's recommended rules
// on js/**/*.ts, ESLint's on the build scripts; the built output is not linted.
import js from "@eslint/js";
import globals from "globals";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["lib/**", "bmtool_lab/**", "node_modules/**", "build/**", "dist/**", ".venv*/**", "benchmarks/**", "docs/**"] },
  js.configs.recommended,
  {
    files: ["**/*.mjs"],
    languageOptions: { globals: globals.node },
  },
  {
    files: ["js/**/*.ts"],
    extends: [tseslint.configs.recommended],
    languageOptions: { globals: globals.browser },
    rules: {
      // The model interface and kernel replies are loosely typed on purpose (msg:custom content).
      "@typescript-eslint/no-explicit-any": "off",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/consistent-type-imports": "error",
      eqeqeq: ["error", "smart"],
      "prefer-const": "error",
    },
  },
);
