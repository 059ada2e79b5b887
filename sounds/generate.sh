#!/usr/bin/env bash
# Regenerates the voice notifications: one 8 kHz mono 16-bit WAV per failure cause and
# language (and `welcome`, a locution an extension can play; `forward_on` and `forward_off`, what a
# user hears after a *80–*83 service code), spoken by espeak-ng and resampled by sox (apt-get install espeak-ng sox).
#   sounds/generate.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
say() { # language voice file text
  mkdir -p "$here/$1"
  espeak-ng -v "$2" -s 150 -w "$here/$1/.tmp.wav" "$4"
  sox "$here/$1/.tmp.wav" -r 8000 -c 1 -b 16 "$here/$1/$3.wav" norm -3
  rm -f "$here/$1/.tmp.wav"
}
say en en-us not_allowed     "You have no permission to place this call."
say en en-us ip_not_allowed  "Calls are not allowed from your location."
say en en-us cannot_be_billed "This call cannot be billed."
say en en-us no_credit       "You have no credit left for this call."
say en en-us max_calls       "The maximum number of calls has been reached."
say en en-us not_in_service  "The number you have dialled is not in service."
say en en-us not_available   "The person you are calling is not available."
say en en-us busy            "The person you are calling is busy."
say en en-us failed          "Your call could not be completed."
say en en-us welcome         "Welcome to vozbox. This is a recorded message."
say en en-us forward_on      "Call forwarding is on."
say en en-us forward_off     "Call forwarding is off."
say es es not_allowed     "No tiene permiso para realizar esta llamada."
say es es ip_not_allowed  "No se permiten llamadas desde su ubicación."
say es es cannot_be_billed "Esta llamada no se puede facturar."
say es es no_credit       "No le queda saldo para esta llamada."
say es es max_calls       "Se ha alcanzado el número máximo de llamadas."
say es es not_in_service  "El número marcado no existe."
say es es not_available   "La persona a la que llama no está disponible."
say es es busy            "La persona a la que llama está ocupada."
say es es failed          "No se ha podido completar su llamada."
say es es welcome         "Bienvenido a vozbox. Este es un mensaje grabado."
say es es forward_on      "El desvío de llamadas está activado."
say es es forward_off     "El desvío de llamadas está desactivado."
