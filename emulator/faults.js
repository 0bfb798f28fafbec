'use strict';

/**
 * The faults an emulator can inject into its exchanges, and the switch that holds the current one.
 *
 *   STATUS_FAULTS   name -> [status, default body]: answered before the request is looked at
 *   RESPONSE_FAULTS names that shape an otherwise successful (verified) exchange
 *   TRANSPORT_FAULTS names applied to the connection before the request is looked at
 *   FAULTS          every name, frozen
 *   faultSwitch() -> { set(name, options), clear(), take() }
 *     set: every following exchange (or the next `options.times`) gets the fault; a TypeError for
 *     an unknown name. take: the fault for the exchange now arriving (null if none), counting it.
 */

const STATUS_FAULTS = {
  badRequest: [400, { message: 'Bad Request' }],
  unauthorized: [401, { message: 'Unauthorized' }],
  methodNotAllowed: [405, { message: 'Method Not Allowed' }],
  rateLimited: [429, { message: 'Too Many Requests' }],
  serverError: [500, { message: 'Internal server error' }],
  gatewayTimeout: [504, { message: 'Endpoint request timed out' }],
};

const RESPONSE_FAULTS = new Set([
  'processed', 'tamperedResponse', 'wrongKey', 'expiredResponse', 'notJson', 'noData',
  'unencrypted', 'badPadding', 'badIv',
]);

const TRANSPORT_FAULTS = new Set(['delay', 'hang', 'connectionReset']);

const FAULTS = Object.freeze([
  ...Object.keys(STATUS_FAULTS), ...RESPONSE_FAULTS, ...TRANSPORT_FAULTS,
]);

function faultSwitch() {
  let fault = null; // { name, options, remaining }
  return {
    set(name, faultOptions = {}) {
      if (!FAULTS.includes(name)) {
        throw new TypeError(`unknown fault '${name}'; expected one of ${FAULTS.join(', ')}`);
      }
      const times = faultOptions.times ?? Infinity;
      fault = { name, options: { ...faultOptions }, remaining: times };
    },
    clear() {
      fault = null;
    },
    take() {
      if (!fault) return null;
      const current = fault;
      if (current.remaining !== Infinity) {
        current.remaining -= 1;
        if (current.remaining <= 0) fault = null;
      }
      return current;
    },
  };
}

module.exports = {
  STATUS_FAULTS, RESPONSE_FAULTS, TRANSPORT_FAULTS, FAULTS, faultSwitch,
};
